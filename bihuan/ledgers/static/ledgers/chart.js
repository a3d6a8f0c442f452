// A register's numeric field (or its entry count) by unit as bars (ECharts, vendored); the data
// comes from the page's json_script block "ledger-chart-data" (ledgers/register_detail.html).
(function () {
  var el = document.getElementById("ledger-chart");
  var dataEl = document.getElementById("ledger-chart-data");
  if (!el || !dataEl || typeof echarts === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    grid: { left: 60, right: 10, top: 30, bottom: 60 },
    title: { text: data.label, textStyle: { fontSize: 13 } },
    xAxis: { type: "category", data: data.units, axisLabel: { interval: 0, rotate: data.units.length > 6 ? 40 : 0 } },
    yAxis: { type: "value" },
    series: [{ name: data.label, type: "bar", data: data.values }]
  });
  el.setAttribute("data-ready", "1");
  window.addEventListener("resize", function () { chart.resize(); });
})();
