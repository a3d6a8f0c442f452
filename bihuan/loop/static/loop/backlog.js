// 清仓见底: open matters by age and light as a stacked bar chart (ECharts, vendored).
(function () {
  var el = document.getElementById("backlog-chart");
  var dataEl = document.getElementById("backlog-data");
  if (!el || !dataEl || typeof echarts === "undefined") { return; }
  var data = JSON.parse(dataEl.textContent);
  var colours = { green: "#2fb344", yellow: "#f59f00", red: "#d63939" };
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { bottom: 0 },
    grid: { left: 40, right: 10, top: 10, bottom: 40 },
    xAxis: { type: "category", data: data.ages },
    yAxis: { type: "value", minInterval: 1 },
    series: data.series.map(function (s) {
      return { name: s.name, type: "bar", stack: "open", data: s.data, itemStyle: { color: colours[s.light] } };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
