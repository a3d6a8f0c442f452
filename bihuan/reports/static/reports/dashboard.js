// Command dashboard (驾驶舱): the 12-week trend of each headline figure and the charts the panels
// describe (ECharts, vendored). The data is the page's json_script "dashboard-data"; HTMX swaps
// the body every minute and this redraws.
(function () {
  var charts = [];
  function barOption(spec) {
    var cat = { type: "category", data: spec.categories };
    var val = { type: "value", minInterval: 1 };
    return {
      tooltip: { trigger: "axis" },
      legend: spec.series.length > 1 ? { bottom: 0 } : undefined,
      grid: { left: spec.horizontal ? 90 : 40, right: 10, top: 10, bottom: spec.series.length > 1 ? 40 : 25 },
      xAxis: spec.horizontal ? val : cat,
      yAxis: spec.horizontal ? cat : val,
      series: spec.series.map(function (s) {
        return { name: s.name, type: "bar", stack: s.stack, data: s.values, itemStyle: s.color ? { color: s.color } : undefined };
      })
    };
  }
  function draw() {
    var dataEl = document.getElementById("dashboard-data");
    if (!dataEl || typeof echarts === "undefined") { return; }
    var data = JSON.parse(dataEl.textContent);
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
    (data.panels || []).forEach(function (p) {
      (p.charts || []).forEach(function (spec) {
        var el = document.getElementById("dash-" + p.name + "-" + spec.id);
        if (!el) { return; }
        var c = echarts.init(el);
        c.setOption(barOption(spec));
        charts.push(c);
        el.setAttribute("data-ready", "1");
      });
    });
    var el = document.getElementById("dash-trend");
    if (!el) { return; }
    var chart = echarts.init(el);
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
    charts.push(chart);
    el.setAttribute("data-ready", "1");
  }
  draw();
  document.body.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
