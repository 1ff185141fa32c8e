// Live progress: every element with data-job-id whose data-status is queued or running polls
// GET /api/v1/crawls/{id} and updates its [data-field] children (status, pages, bytes, ...).
// data-reload-when-done reloads the page when the job ends (to show its WARCs and captures).
"use strict";

const ACTIVE = ["queued", "running"];

function size(n) {  // same units as the server's ``size`` filter
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  for (; n >= 1000 && i < units.length; i++) n /= 1000;
  return i === 0 ? `${Math.trunc(n)} B` : `${n.toFixed(1)} ${units[i] || "TB"}`;
}

function watch(element) {
  const timer = setInterval(async () => {
    let job;
    try {
      const response = await fetch(`/api/v1/crawls/${element.dataset.jobId}`);
      if (!response.ok) return;  // keep the last figures; try again next tick
      job = await response.json();
    } catch {
      return;  // service restarting: try again next tick
    }
    element.dataset.status = job.status;
    for (const field of element.querySelectorAll("[data-field]")) {
      const name = field.dataset.field;
      const value = name === "status" ? job.status : (job.stats[name] ?? 0);
      field.textContent = name === "bytes" ? size(value) : String(value);
      if (name === "status") field.className = `status status-${job.status}`;
    }
    if (!ACTIVE.includes(job.status)) {
      clearInterval(timer);
      if ("reloadWhenDone" in element.dataset) location.reload();
    }
  }, Number(document.body.dataset.pollMs) || 2000);
}

document.querySelectorAll("[data-job-id]").forEach((element) => {
  if (ACTIVE.includes(element.dataset.status)) watch(element);
});
