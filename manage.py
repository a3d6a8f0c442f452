#!/usr/bin/env python
from bihuan.cli import main

if __name__ == "__main__":
    main()
