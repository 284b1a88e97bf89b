// What htmx does not cover: the live log and "select all" boxes. No other script runs.
//
// The live log reads the API's server-sent event stream with fetch (its events are named
// after each log entry, which EventSource cannot subscribe to without knowing the names)
// and filters entries by SKU and channel in the page, so changing a filter keeps history.
document.addEventListener("DOMContentLoaded", () => {
  const log = document.getElementById("log-lines");
  if (log) follow(log);
  document.querySelectorAll("input[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      document.querySelectorAll(`input[name="${box.dataset.selectAll}"]`)
        .forEach((b) => { b.checked = box.checked; });
    });
  });
});

function follow(log) {
  const sku = document.getElementById("log-sku");
  const channel = document.getElementById("log-channel");
  const status = document.getElementById("log-status");
  const shown = (line) =>
    (!sku.value.trim() || line.dataset.text.includes(sku.value.trim())) &&
    (!channel.value.trim() || line.dataset.channel === channel.value.trim());
  const add = (data) => {
    let entry;
    try { entry = JSON.parse(data); } catch { return; }
    const line = document.createElement("div");
    line.dataset.text = data;
    line.dataset.channel = entry.channel || "";
    line.textContent = `${entry.timestamp || ""} ${entry.event || ""} ${data}`;
    line.hidden = !shown(line);
    log.prepend(line);
    while (log.childElementCount > 500) log.lastElementChild.remove();
  };
  const refilter = () => log.querySelectorAll("div").forEach((l) => { l.hidden = !shown(l); });
  sku.addEventListener("input", refilter);
  channel.addEventListener("input", refilter);
  const connect = async () => {
    try {
      const response = await fetch(log.dataset.stream, { headers: { Accept: "text/event-stream" } });
      if (response.status === 401) { window.location = "/login?next=/logs"; return; }
      status.textContent = "connected";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: "))
            .map((l) => l.slice(6)).join("\n");
          if (data) add(data);
        }
      }
    } catch (err) { /* the connection dropped: try again below */ }
    status.textContent = "reconnecting…";
    setTimeout(connect, 2000);
  };
  connect();
}
