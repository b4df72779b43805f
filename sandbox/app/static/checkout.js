// Card checkout: create a payment intent and confirm it through the platform's Edge Functions as the signed-in
// patient, then wait (bounded) for the provider's webhook to mark the prescription paid. A declined card is shown
// in an alert with the provider's reason; the form stays usable to try another card.
(function () {
  "use strict";

  var PAID_WAIT_MS = 15000;
  var POLL_MS = 400;

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.content : "";
  }

  var form = document.getElementById("checkout-form");
  if (!form) {
    return;
  }
  var errorBox = document.getElementById("payment-error");
  var statusBox = document.getElementById("payment-status");
  var button = document.getElementById("pay-button");
  var cardInput = document.getElementById("card-number");
  var prescriptionId = form.dataset.prescriptionId;
  var headers = {
    "apikey": meta("rx-anon-key"),
    "Authorization": "Bearer " + meta("rx-access-token"),
    "Content-Type": "application/json"
  };

  function call(name, body) {
    return fetch("/functions/v1/" + name, {method: "POST", headers: headers, body: JSON.stringify(body)})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          return {status: response.status, body: json};
        });
      });
  }

  function showError(text) {
    errorBox.textContent = text;
    statusBox.textContent = "";
    cardInput.setAttribute("aria-invalid", "true");
    button.disabled = false;
  }

  function waitUntilPaid(deadline) {
    return fetch("/rest/v1/prescriptions?select=status&id=eq." + prescriptionId, {headers: headers})
      .then(function (response) { return response.json(); })
      .then(function (rows) {
        var status = rows.length ? rows[0].status : "";
        if (status === "paid" || status === "dispensed") {
          document.querySelectorAll("[data-status]").forEach(function (badge) {
            badge.dataset.status = status;
            badge.className = "status status-" + status;
            badge.textContent = status;
          });
          statusBox.textContent = "Payment complete: your prescription is paid. The pharmacy will prepare it.";
          form.hidden = true;
          return;
        }
        if (Date.now() > deadline) {
          statusBox.textContent = "Payment accepted; confirmation is taking longer than usual. Check back soon.";
          return;
        }
        return new Promise(function (resolve) { setTimeout(resolve, POLL_MS); }).then(function () {
          return waitUntilPaid(deadline);
        });
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var card = cardInput.value.replace(/\s+/g, "");
    if (!/^[0-9]{12,19}$/.test(card)) {
      showError("Enter the card number: 12 to 19 digits.");
      return;
    }
    errorBox.textContent = "";
    cardInput.removeAttribute("aria-invalid");
    button.disabled = true;
    statusBox.textContent = "Processing payment…";
    call("create-payment-intent", {prescription_id: prescriptionId})
      .then(function (intent) {
        if (intent.status !== 200) {
          throw new Error(intent.body.message || "the payment could not be started");
        }
        return call("confirm-payment", {payment_intent_id: intent.body.payment_intent_id, card_number: card});
      })
      .then(function (confirmed) {
        if (confirmed.status === 402) {
          var reason = confirmed.body.decline_code ? " (" + confirmed.body.decline_code.replace(/_/g, " ") + ")" : "";
          showError("Payment declined" + reason + ": " + (confirmed.body.message || "Your card was declined.") +
                    " No money was taken. Try another card.");
          return;
        }
        if (confirmed.status !== 200) {
          throw new Error(confirmed.body.message || "the payment could not be completed");
        }
        statusBox.textContent = "Payment accepted. Waiting for confirmation…";
        return waitUntilPaid(Date.now() + PAID_WAIT_MS);
      })
      .catch(function (error) {
        showError("Payment failed: " + error.message + ". Try again in a moment.");
      });
  });
})();
