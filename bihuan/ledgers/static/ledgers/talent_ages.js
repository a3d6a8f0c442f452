// The reserve-talent pool's age bands by unit as stacked bars (ECharts, vendored); the data comes
// from the page's json_script block "talent-chart-data" (ledgers/talent_ages.html).
(function () {
  var el = document.getElementById("talent-chart");
  var dataEl = document.getElementById("talent-chart-data");
  if (!el || !dataEl || typeof echarts === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: data.bands, top: 0 },
    grid: { left: 50, right: 10, top: 40, bottom: 70 },
    xAxis: { type: "category", data: data.units, axisLabel: { interval: 0, rotate: data.units.length > 5 ? 40 : 0 } },
    yAxis: { type: "value" },
    series: data.bands.map(function (b, i) { return { name: b, type: "bar", stack: "ages", data: data.series[i] }; })
  });
  el.setAttribute("data-ready", "1");
  window.addEventListener("resize", function () { chart.resize(); });
})();
