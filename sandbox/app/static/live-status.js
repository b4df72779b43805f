// Live prescription status for the patient's pages: a Phoenix-channel websocket to Realtime, subscribed to
// changes of the patient's own prescriptions. Each change updates the status in place and is announced in a
// polite live region, so the page never needs a reload.
(function () {
  "use strict";

  var HEARTBEAT_MS = 25000;
  var MAX_RECONNECTS = 20;

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.content : "";
  }

  var anonKey = meta("rx-anon-key");
  var accessToken = meta("rx-access-token");
  var userId = meta("rx-user-id");
  var stateLine = document.getElementById("live-state");
  var announcer = document.getElementById("live-announcer");
  if (!anonKey || !accessToken || !userId || !stateLine) {
    return;
  }

  function setState(state, text) {
    stateLine.dataset.live = state;
    stateLine.textContent = "Live updates: " + text;
  }

  function payLink(id, ref) {
    var link = document.createElement("a");
    link.href = "/checkout/" + id;
    link.textContent = "Pay for Rx " + ref;
    return link;
  }

  function apply(row) {
    var holders = document.querySelectorAll('[data-prescription-id="' + row.id + '"]');
    if (!holders.length) {
      if (announcer) {
        announcer.textContent = "A new prescription was added: reload to see it.";
      }
      return;
    }
    holders.forEach(function (holder) {
      holder.querySelectorAll("[data-status]").forEach(function (badge) {
        badge.dataset.status = row.status;
        badge.className = "status status-" + row.status;
        badge.textContent = row.status;
      });
      holder.querySelectorAll(".action").forEach(function (cell) {
        cell.textContent = "";
        if (row.status === "approved") {
          cell.appendChild(payLink(row.id, holder.dataset.ref));
        }
      });
    });
    if (announcer) {
      announcer.textContent = "Prescription " + holders[0].dataset.ref + " is now " + row.status + ".";
    }
  }

  var ref = 0;
  var reconnects = 0;

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/realtime/v1/websocket?apikey=" + encodeURIComponent(anonKey) + "&vsn=1.0.0";
    var socket = new WebSocket(url);
    var topic = "realtime:rx-patient-" + userId;
    var heartbeat = null;

    function send(frameTopic, event, payload) {
      ref += 1;
      socket.send(JSON.stringify({topic: frameTopic, event: event, payload: payload, ref: String(ref)}));
    }

    socket.addEventListener("open", function () {
      send(topic, "phx_join", {
        access_token: accessToken,
        config: {postgres_changes: [
          {event: "*", schema: "public", table: "prescriptions", filter: "patient_id=eq." + userId}
        ]}
      });
      heartbeat = setInterval(function () { send("phoenix", "heartbeat", {}); }, HEARTBEAT_MS);
    });

    socket.addEventListener("message", function (message) {
      var frame;
      try {
        frame = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (frame.topic !== topic) {
        return;
      }
      if (frame.event === "phx_reply") {
        if (frame.payload && frame.payload.status === "ok") {
          reconnects = 0;
          setState("connected", "on");
        } else {
          setState("error", "unavailable (" + ((frame.payload.response || {}).reason || "refused") + ")");
        }
      } else if (frame.event === "postgres_changes") {
        var data = frame.payload && frame.payload.data;
        if (data && data.new && data.new.id) {
          apply(data.new);
        }
      }
    });

    socket.addEventListener("close", function () {
      clearInterval(heartbeat);
      if (reconnects >= MAX_RECONNECTS) {
        setState("offline", "off (reload the page to retry)");
        return;
      }
      reconnects += 1;
      setState("connecting", "reconnecting…");
      setTimeout(connect, Math.min(500 * reconnects, 5000));
    });
  }

  connect();
})();
