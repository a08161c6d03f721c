// Live job progress: poll the job's JSON status and update the bar without reloading.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-job-status-url]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector(".job-progress__text");
  const fill = (template, values) =>
    Object.entries(values).reduce((s, [k, v]) => s.replace(`{${k}}`, v), template);
  const fmt = (n) => new Intl.NumberFormat(document.documentElement.lang).format(n);
  let first = null;
  const tick = async () => {
    let data;
    try {
      const response = await fetch(box.dataset.jobStatusUrl, { credentials: "same-origin" });
      if (!response.ok) return setTimeout(tick, 2000);
      data = await response.json();
    } catch (error) { return setTimeout(tick, 2000); }
    if (data.status === "succeeded") {
      text.textContent = box.dataset.labelDone;
      bar.value = 100;
      window.location.assign(data.result_url || window.location.href);
      return;
    }
    if (data.status === "failed") {
      text.textContent = `${box.dataset.labelFailed} ${data.error || ""}`;
      return;
    }
    if (data.status === "queued") {
      text.textContent = box.dataset.labelQueued;
    } else {
      const now = Date.now();
      if (!first && data.done > 0) first = { t: now, done: data.done };
      let eta = "";
      if (first && data.total && data.done > first.done) {
        const rate = (data.done - first.done) / ((now - first.t) / 1000);
        eta = " · " + fill(box.dataset.labelEta, { s: fmt(Math.ceil((data.total - data.done) / rate)) });
      }
      bar.value = data.percent;
      text.textContent = `${data.percent} % · ` +
        fill(box.dataset.labelRows, { done: fmt(data.done), total: fmt(data.total || 0) }) + " · " +
        fill(box.dataset.labelRejected, { n: fmt(data.rejected) }) + eta;
    }
    setTimeout(tick, 1000);
  };
  tick();
});
