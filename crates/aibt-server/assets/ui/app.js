// aibt's web UI: charts (TradingView Lightweight Charts), live progress over server-sent
// events, and the decision dialog. Everything it loads comes from this server.
(function () {
  "use strict";
  const words = JSON.parse(document.getElementById("words")?.textContent || "{}");
  const word = (key) => words[key] || key;
  const LC = window.LightweightCharts;

  const colors = {
    up: "#16a34a", down: "#dc2626", equity: "#2563eb", hold: "#9ca3af",
    grid: "#eef0f3", text: "#374151",
    BUY: "#16a34a", SELL: "#dc2626", SHORT_SELL: "#9333ea", COVER_SHORT: "#0891b2",
  };
  const palette = ["#2563eb", "#ea580c", "#16a34a", "#9333ea"];

  function makeChart(el, height) {
    return LC.createChart(el, {
      autoSize: true,
      height: height,
      layout: { background: { color: "#ffffff" }, textColor: colors.text, attributionLogo: true },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { borderVisible: false },
    });
  }

  // Labels on a few markers help; on hundreds they are a blur, so dense charts get arrows only.
  function markerOf(m, labelled) {
    const buyish = m.action === "BUY" || m.action === "COVER_SHORT";
    return {
      time: m.time,
      position: buyish ? "belowBar" : "aboveBar",
      shape: buyish ? "arrowUp" : "arrowDown",
      color: colors[m.action] || colors.text,
      // An exit by a stop, target or trailing stop says so; a signal's exit is its action.
      text: labelled
        ? (m.exit_reason && m.exit_reason !== "SIGNAL" ? word("exit." + m.exit_reason) : word("action." + m.action))
        : undefined,
      size: labelled ? 1 : 0.6,
    };
  }

  function drawdown(points) {
    let peak = -Infinity;
    return points.map((p) => {
      peak = Math.max(peak, p.value);
      return { time: p.time, value: peak > 0 ? (p.value / peak - 1) * 100 : 0 };
    });
  }

  const charts = {};
  async function drawTaskCharts() {
    const price = document.getElementById("price-chart");
    if (!price || !LC) return;
    const response = await fetch(price.dataset.chart);
    if (!response.ok) return;
    const data = await response.json();
    if (!charts.price) {
      charts.price = makeChart(price, price.clientHeight || 420);
      charts.candles = charts.price.addSeries(LC.CandlestickSeries, {
        upColor: colors.up, downColor: colors.down, borderVisible: false,
        wickUpColor: colors.up, wickDownColor: colors.down,
      });
      charts.markers = LC.createSeriesMarkers(charts.candles, []);
    }
    charts.candles.setData(data.candles);
    const raw = data.markers || [];
    const markers = raw.map((m) => markerOf(m, raw.length <= 120));
    charts.markers.setMarkers(markers);
    price.dataset.candles = String(data.candles.length);
    price.dataset.markers = String(markers.length);
    charts.price.timeScale().fitContent();

    const equityEl = document.getElementById("equity-chart");
    if (equityEl && data.equity) {
      if (!charts.equity) {
        charts.equity = makeChart(equityEl, equityEl.clientHeight || 260);
        charts.equityLine = charts.equity.addSeries(LC.LineSeries, { color: colors.equity, lineWidth: 2, title: word("js.equity") });
        charts.holdLine = charts.equity.addSeries(LC.LineSeries, { color: colors.hold, lineWidth: 1, title: word("js.buy_hold") });
      }
      charts.equityLine.setData(data.equity);
      charts.holdLine.setData(data.buy_hold || []);
      charts.equity.timeScale().fitContent();
      equityEl.dataset.points = String(data.equity.length);
    }
    const ddEl = document.getElementById("drawdown-chart");
    if (ddEl && data.equity) {
      if (!charts.dd) {
        charts.dd = makeChart(ddEl, ddEl.clientHeight || 160);
        charts.ddLine = charts.dd.addSeries(LC.AreaSeries, {
          lineColor: colors.down, topColor: "rgba(220,38,38,0.05)", bottomColor: "rgba(220,38,38,0.35)",
          lineWidth: 1, title: word("js.drawdown"),
        });
      }
      charts.ddLine.setData(drawdown(data.equity));
      charts.dd.timeScale().fitContent();
    }
  }

  async function drawCompare() {
    const el = document.getElementById("compare-chart");
    if (!el || !LC) return;
    const response = await fetch(el.dataset.compare);
    if (!response.ok) return;
    const data = await response.json();
    const chart = makeChart(el, el.clientHeight || 360);
    data.lines.forEach((line, i) => {
      const series = chart.addSeries(LC.LineSeries, { color: palette[i % palette.length], lineWidth: 2, title: line.label });
      series.setData(line.points);
    });
    chart.timeScale().fitContent();
    el.dataset.lines = String(data.lines.length);
  }

  function applyProgress(root, event) {
    const status = root.querySelector('[data-role="status"]');
    if (status) {
      status.textContent = event.status_label;
      status.className = "badge status-" + event.status;
    }
    const progress = root.querySelector('[data-role="progress"]');
    if (progress) {
      progress.querySelector(".bar").style.width = event.progress_pct + "%";
      progress.querySelector("span").textContent = event.progress_text;
    }
    const ret = root.querySelector('[data-role="return"]');
    if (ret && typeof event.return_pct === "number") {
      ret.textContent = (event.return_pct >= 0 ? "+" : "") + event.return_pct.toFixed(2) + "%";
    }
  }

  // A list's rows (tr[data-task] or tr[data-experiment]) follow one event stream for the
  // whole list, keyed by the event's task_id or experiment_id.
  function liveList(tableId, url, kind) {
    const table = document.getElementById(tableId);
    const ids = table?.dataset.liveIds;
    if (!ids) return;
    const source = new EventSource(url + encodeURIComponent(ids));
    source.addEventListener("progress", (e) => {
      const event = JSON.parse(e.data);
      const row = table.querySelector("tr[data-" + kind + '="' + event[kind + "_id"] + '"]');
      if (row) applyProgress(row, event);
    });
    source.addEventListener("end", () => source.close());
  }

  function liveTask() {
    const head = document.getElementById("task-head");
    if (!head) return;
    const active = (s) => s === "PENDING" || s === "RUNNING";
    if (!active(head.dataset.status)) return;
    const source = new EventSource("/ui/events?ids=" + encodeURIComponent(head.dataset.task));
    let refresh = setInterval(drawTaskCharts, 5000);
    source.addEventListener("progress", (e) => {
      const event = JSON.parse(e.data);
      applyProgress(head, event);
      if (!active(event.status)) {
        source.close();
        clearInterval(refresh);
        // The page shows statistics and every record once the task has finished.
        setTimeout(() => window.location.reload(), 300);
      }
    });
    source.addEventListener("end", () => source.close());
  }

  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target && e.detail.target.id === "decision-detail") {
      document.getElementById("decision-dialog")?.showModal();
    }
  });

  // Progress bars carry their width as data: the pages' security policy allows no inline
  // style attributes, while a style set from script is allowed.
  function sizeBars(root) {
    root.querySelectorAll(".bar[data-pct]").forEach((bar) => {
      bar.style.width = bar.dataset.pct + "%";
    });
  }
  document.addEventListener("htmx:afterSwap", (e) => sizeBars(e.detail.target || document));

  function start() {
    sizeBars(document);
    drawTaskCharts().catch(console.error);
    drawCompare().catch(console.error);
    liveList("tasks", "/ui/events?ids=", "task");
    liveList("experiments", "/ui/experiment-events?ids=", "experiment");
    liveTask();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
