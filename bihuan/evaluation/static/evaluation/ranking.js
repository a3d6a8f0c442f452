// h-eval2 — the ranking page's charts (ECharts, vendored): scores by peer group (average bars,
// lowest/highest marks) and the stars of every target of one township as a grid of coloured cells.
// Data from the json_script block "eval-chart-data" (evaluation/run_detail.html); no inline script.
(function () {
  var dataEl = document.getElementById("eval-chart-data");
  if (!dataEl || typeof echarts === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var L = data.labels || {};
  var charts = [];

  var barEl = document.getElementById("eval-bar");
  if (barEl && data.bar && data.bar.groups.length) {
    var bar = echarts.init(barEl);
    bar.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [L.avg, L.min, L.max], top: 0 },
      grid: { left: 40, right: 10, top: 36, bottom: 30 },
      xAxis: { type: "category", data: data.bar.groups, axisLabel: { interval: 0 } },
      yAxis: { type: "value", min: 0, max: 100 },
      series: [
        { name: L.avg, type: "bar", data: data.bar.avg, barMaxWidth: 48, label: { show: true, position: "top" } },
        { name: L.min, type: "scatter", data: data.bar.min, symbolSize: 10 },
        { name: L.max, type: "scatter", data: data.bar.max, symbolSize: 10 }
      ]
    });
    barEl.setAttribute("data-ready", "1");
    charts.push(bar);
  }

  var gridEl = document.getElementById("eval-grid");
  var colours = ["#adb5bd", "#d63939", "#f76707", "#f59f00", "#74b816", "#2fb344"];
  function drawGrid() {
    if (!gridEl || !data.grid) { return null; }
    var cells = data.grid.cells;
    var cols = gridEl.clientWidth < 600 ? 4 : 6;
    var rows = Math.max(1, Math.ceil(cells.length / cols));
    gridEl.style.height = (rows * 52 + 10) + "px";
    var xs = [], ys = [], i;
    for (i = 0; i < cols; i++) { xs.push(String(i)); }
    for (i = 0; i < rows; i++) { ys.push(String(i)); }
    var points = cells.map(function (c, k) {
      return { name: c.name, value: [k % cols, Math.floor(k / cols), c.stars], cell: c };
    });
    var chart = echarts.getInstanceByDom(gridEl) || echarts.init(gridEl);
    chart.resize();
    chart.setOption({
      tooltip: { formatter: function (p) {
        var c = p.data.cell;
        return c.name + "<br>" + (c.score === null ? L.unscored : L.score + " " + c.score + " · " +
          L.rank + " " + c.rank + "/" + c.peers) + "<br>" + (c.stars ? "★".repeat(c.stars) : "—");
      } },
      grid: { left: 2, right: 2, top: 2, bottom: 2 },
      visualMap: { show: false, type: "piecewise", dimension: 2,
                   pieces: colours.map(function (c, v) { return { value: v, color: c }; }) },
      xAxis: { type: "category", data: xs, show: false },
      yAxis: { type: "category", data: ys, show: false, inverse: true },
      series: [{ type: "heatmap", data: points, itemStyle: { borderColor: "#fff", borderWidth: 2 },
                 label: { show: true, fontSize: 11, formatter: function (p) {
                   var n = p.data.cell.name;
                   return (n.length > 6 ? n.slice(0, 6) + "…" : n) + "\n" + (p.value[2] ? "★".repeat(p.value[2]) : "—");
                 } } }]
    }, true);
    gridEl.setAttribute("data-ready", "1");
    return chart;
  }
  var grid = drawGrid();
  if (grid) { charts.push(grid); }
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
    if (grid) { drawGrid(); }
  });
})();
