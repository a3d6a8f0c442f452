"""Bihuan 闭环 — closed-loop grassroots governance platform."""

__version__ = "0.1.0"
