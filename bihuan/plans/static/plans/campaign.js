// 大干五十天: the leaderboard as a horizontal bar chart (ECharts, vendored), and a live countdown.
(function () {
  var el = document.getElementById("campaign-chart");
  var dataEl = document.getElementById("campaign-data");
  if (el && dataEl && typeof echarts !== "undefined") {
    var data = JSON.parse(dataEl.textContent);
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v + "%"; } },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", max: function (v) { return Math.max(100, Math.ceil(v.max)); } },
      yAxis: { type: "category", inverse: true, data: data.units },
      series: [{
        type: "bar", data: data.pct.map(function (v, i) {
          return { value: v, itemStyle: { color: "#" + data.colours[data.status[i]] } };
        }),
        label: { show: true, position: "right", formatter: "{c}%" },
        markLine: { silent: true, symbol: "none", data: [{ xAxis: 100 }] }
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  var cd = document.querySelector("[data-ends]");
  if (cd && cd.dataset.ends) {
    var end = new Date(cd.dataset.ends).getTime();
    var tick = function () {
      var ms = end - Date.now();
      if (ms <= 0) { return; }
      var d = Math.floor(ms / 86400000), h = Math.floor(ms % 86400000 / 3600000), m = Math.floor(ms % 3600000 / 60000);
      cd.setAttribute("title", d + "d " + h + "h " + m + "m");
      var sub = cd.nextElementSibling || document.createElement("div");
      if (!sub.parentNode) { sub.className = "small"; cd.parentNode.appendChild(sub); }
      sub.textContent = d + " 天 " + h + " 小时 " + m + " 分";
    };
    tick();
    setInterval(tick, 30000);
  }
})();
