// Command dashboard (驾驶舱): the 12-week trend of each headline figure (ECharts, vendored). The data
// is the page's json_script "dashboard-data"; HTMX swaps the body every minute and this redraws.
(function () {
  var chart = null;
  function draw() {
    var el = document.getElementById("dash-trend");
    var dataEl = document.getElementById("dashboard-data");
    if (!el || !dataEl || typeof echarts === "undefined") { return; }
    var data = JSON.parse(dataEl.textContent);
    if (chart) { chart.dispose(); }
    chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 40, right: 10, top: 10, bottom: 50 },
      xAxis: { type: "category", data: data.trend.weeks },
      yAxis: { type: "value" },
      series: data.trend.series.map(function (s) {
        return { name: s.label, type: "line", data: s.values, connectNulls: false };
      })
    });
    el.setAttribute("data-ready", "1");
  }
  draw();
  document.body.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () { if (chart) { chart.resize(); } });
})();
