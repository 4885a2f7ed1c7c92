// minertrace dashboard: sortable and filterable tables, period tabs. No dependencies.
"use strict";

function cellValue(row, index, numeric) {
  const cell = row.cells[index];
  if (!cell) return numeric ? -Infinity : "";
  const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
  if (!numeric) return raw.toLowerCase();
  const n = parseFloat(raw);
  return Number.isNaN(n) ? -Infinity : n;
}

function sortTable(table, th) {
  const index = Array.prototype.indexOf.call(th.parentNode.children, th);
  const numeric = th.dataset.type === "num";
  const desc = !th.classList.contains("desc");
  table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
  th.classList.add(desc ? "desc" : "asc");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, index, numeric);
    const y = cellValue(b, index, numeric);
    if (x < y) return desc ? 1 : -1;
    if (x > y) return desc ? -1 : 1;
    return 0;
  });
  const frag = document.createDocumentFragment();
  rows.forEach((r) => frag.appendChild(r));
  body.appendChild(frag);
}

function filterTable(table, text) {
  const terms = text.toLowerCase().split(/\s+/).filter(Boolean);
  Array.from(table.tBodies[0].rows).forEach((row) => {
    const hay = row.textContent.toLowerCase();
    row.hidden = !terms.every((t) => hay.includes(t));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th) => {
      th.addEventListener("click", () => sortTable(table, th));
    });
  });
  document.querySelectorAll("input.filter").forEach((input) => {
    const table = document.getElementById(input.dataset.table);
    if (table) input.addEventListener("input", () => filterTable(table, input.value));
  });
  document.querySelectorAll(".tab").forEach((tab) => {
    tab.addEventListener("click", () => {
      document.querySelectorAll(".tab, .tabpane").forEach((el) => el.classList.remove("on"));
      tab.classList.add("on");
      const pane = document.getElementById(tab.dataset.tab);
      if (pane) pane.classList.add("on");
    });
  });
});
