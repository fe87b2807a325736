/* shoptrack's web UI: draws the charts a page describes (the server builds each Chart.js
   configuration; see shoptrack/web/charts.py), on first load and in content htmx swaps in. */
(function () {
  "use strict";

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") {
      return;
    }
    canvas.dataset.drawn = "1";
    var config = JSON.parse(canvas.dataset.chart);
    config.options = config.options || {};
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    config.options.animation = false;
    new window.Chart(canvas, config);
  }

  function drawAll(root) {
    if (root.matches && root.matches("canvas[data-chart]")) {
      draw(root);
    }
    if (root.querySelectorAll) {
      root.querySelectorAll("canvas[data-chart]").forEach(draw);
    }
  }

  if (window.htmx) {
    window.htmx.onLoad(drawAll);
  } else {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  }
})();
