// Price and stock for the chosen service, country and rent time, from the last catalog sync.
(function () {
  const offers = JSON.parse(document.getElementById("rent-offers").textContent);
  const words = JSON.parse(document.getElementById("rent-offer-words").textContent);
  const form = document.getElementById("rent-number-form");
  const line = document.getElementById("rent-offer");
  function show() {
    const key = [form.service.value, form.country.value, form.hours.value].join(":");
    const offer = offers[key];
    if (!form.service.value || !form.country.value) { line.textContent = ""; return; }
    if (!offer) { line.textContent = words.unknown; return; }
    const cost = offer.cost === null ? words.no_price : offer.cost.replace(".", words.decimal_separator) + " USD";
    const stock = offer.available === null ? words.no_stock : words.available.replace("%s", offer.available);
    line.textContent = cost + ", " + stock + " (" + words.as_of.replace("%s", offer.checked) + ").";
  }
  ["service", "country", "hours"].forEach(function (name) { form[name].addEventListener("change", show); });
  show();
})();
