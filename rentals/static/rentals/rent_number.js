// Price and stock for the chosen service, country and rent time, from the last catalog sync; and, for
// the chosen service and rent time, every country's price and stock, cheapest first, to choose from.
(function () {
  const offers = JSON.parse(document.getElementById("rent-offers").textContent);
  const words = JSON.parse(document.getElementById("rent-offer-words").textContent);
  const form = document.getElementById("rent-number-form");
  const line = document.getElementById("rent-offer");
  const table = document.getElementById("rent-countries");

  function price(offer) {
    return offer.cost === null ? words.no_price : offer.cost.replace(".", words.decimal_separator) + " USD";
  }
  function stock(offer) {
    return offer.available === null ? words.no_stock : words.available.replace("%s", offer.available);
  }
  function show() {
    const key = [form.service.value, form.country.value, form.hours.value].join(":");
    const offer = offers[key];
    if (!form.service.value || !form.country.value) { line.textContent = ""; return; }
    if (!offer) { line.textContent = words.unknown; return; }
    line.textContent = price(offer) + ", " + stock(offer) + " (" + words.as_of.replace("%s", offer.checked) + ").";
  }

  // The active countries the form offers, with the chosen service's offer for the chosen rent time.
  function countriesOffered() {
    const rows = [];
    Array.prototype.forEach.call(form.country.options, function (option) {
      const offer = option.value && offers[[form.service.value, option.value, form.hours.value].join(":")];
      if (offer) rows.push({ id: option.value, name: option.textContent, offer: offer });
    });
    const cost = function (row) { return row.offer.cost === null ? Infinity : parseFloat(row.offer.cost); };
    return rows.sort(function (a, b) { return cost(a) - cost(b) || a.name.localeCompare(b.name); });
  }
  function cell(tag, text) {
    const node = document.createElement(tag);
    node.textContent = text;
    return node;
  }
  function choose(id) {
    form.country.value = id;
    form.country.dispatchEvent(new Event("change", { bubbles: true }));
  }
  function drawCountries() {
    const body = table.querySelector("tbody");
    body.textContent = "";
    const rows = form.service.value ? countriesOffered() : [];
    table.hidden = rows.length === 0;
    rows.forEach(function (row) {
      const tr = document.createElement("tr");
      tr.setAttribute("data-country", row.id);
      tr.tabIndex = 0;
      tr.className = row.id === form.country.value ? "chosen" : "";
      tr.setAttribute("aria-selected", row.id === form.country.value ? "true" : "false");
      [row.name, price(row.offer), stock(row.offer)].forEach(function (text) { tr.appendChild(cell("td", text)); });
      tr.addEventListener("click", function () { choose(row.id); });
      tr.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(row.id); }
      });
      body.appendChild(tr);
    });
  }
  function refresh() { show(); drawCountries(); }
  ["service", "country", "hours"].forEach(function (name) { form[name].addEventListener("change", refresh); });
  refresh();
})();
