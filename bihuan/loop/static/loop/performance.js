// Performance (绩效): the unit's weekly rates over 12 weeks as lines (ECharts, vendored); the data
// comes from the page's json_script block "performance-data" (loop/performance.html).
(function () {
  var el = document.getElementById("performance-chart");
  var dataEl = document.getElementById("performance-data");
  if (!el || !dataEl || typeof echarts === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var rates = data.series.filter(function (s) { return s.key !== "mean_hours"; });
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + "%"; } },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: 40, right: 10, top: 10, bottom: 50 },
    xAxis: { type: "category", data: data.weeks },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
    series: rates.map(function (s) {
      return { name: s.name, type: "line", data: s.data, connectNulls: false, showSymbol: true };
    })
  });
  el.setAttribute("data-ready", "1");
  window.addEventListener("resize", function () { chart.resize(); });
})();
