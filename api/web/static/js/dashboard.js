// Supervisor dashboard: draws the charts and refreshes every figure every 5 seconds.
import { api, t } from "./common.js";

const Chart = window.Chart;
const data0 = JSON.parse(document.getElementById("dash-data").textContent);
const palette = ["#1f5fa8", "#1e7b3a", "#a86400", "#9c1c26", "#6a4c93", "#2a9d8f", "#e76f51", "#8d99ae", "#264653", "#e9c46a", "#f4a261", "#457b9d", "#b5838d"];
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.animation = false;

const hourLabel = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });

const statusChart = new Chart(document.getElementById("chart-status"), {
  type: "bar",
  data: { labels: [], datasets: [{ data: [], backgroundColor: palette }] },
  options: { maintainAspectRatio: false, plugins: { legend: { display: false } }, indexAxis: "y", scales: { x: { ticks: { precision: 0 } } } },
});
const sourceChart = new Chart(document.getElementById("chart-sources"), {
  type: "doughnut",
  data: { labels: [], datasets: [{ data: [], backgroundColor: palette }] },
  options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
});
const throughputChart = new Chart(document.getElementById("chart-throughput"), {
  type: "line",
  data: { labels: [], datasets: [
    { label: t("dash.uploaded"), data: [], borderColor: palette[0], backgroundColor: palette[0], tension: 0.2 },
    { label: t("dash.posted"), data: [], borderColor: palette[1], backgroundColor: palette[1], tension: 0.2 },
  ] },
  options: { maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
});

function setText(id, value) { const node = document.getElementById(id); if (node) node.textContent = value; }

function draw(d) {
  const statuses = Object.keys(d.by_status);
  statusChart.data.labels = statuses.map((s) => t(`status.${s}`));
  statusChart.data.datasets[0].data = statuses.map((s) => d.by_status[s]);
  statusChart.update();
  const sources = Object.keys(d.sources);
  sourceChart.data.labels = sources.map((s) => t(`dash.source.${s}`));
  sourceChart.data.datasets[0].data = sources.map((s) => d.sources[s]);
  sourceChart.update();
  throughputChart.data.labels = d.throughput.hours.map(hourLabel);
  throughputChart.data.datasets[0].data = d.throughput.uploaded;
  throughputChart.data.datasets[1].data = d.throughput.posted;
  throughputChart.update();
  setText("stat-in-flight", d.in_flight);
  setText("stat-sla", d.sla.vouchers);
  document.getElementById("stat-sla")?.classList.toggle("bad", d.sla.vouchers > 0);
  setText("sla-entry", d.sla.entry);
  setText("sla-auth", d.sla.authorization);
  setText("stat-posted", d.by_status.posted);
  setText("stat-unclassified", d.stages.classify);
  setText("dash-at", d.at.slice(11, 19));
  for (const [stage, n] of Object.entries(d.stages)) {
    const cell = document.querySelector(`[data-stage="${stage}"]`);
    if (cell) cell.textContent = n;
  }
  for (const [q, n] of Object.entries(d.jobs || {})) {
    const cell = document.querySelector(`[data-job="${q}"]`);
    if (cell) cell.textContent = n;
  }
}

draw(data0);
setInterval(async () => {
  try { draw(await api("/supervisor/data")); } catch (e) { /* keep the last figures on a blip */ }
}, 5000);
