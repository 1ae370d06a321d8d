/* Check-in: keep the code input ready for the next scan, and, where the browser can read
   barcodes from the camera (BarcodeDetector: Chrome on Android, some tablets), offer a
   camera button. Without this script the page works the same with typed or scanned codes:
   a USB or Bluetooth scanner types the code and presses Enter like a keyboard. */
(function () {
  "use strict";
  var form = document.getElementById("check-in-form");
  var input = document.getElementById("id_code");
  if (!form || !input) {
    return;
  }

  // After each answer the input is empty and focused again: the next scan goes straight in.
  input.value = "";
  input.focus();
  document.addEventListener("keydown", function (event) {
    // A scanner types into whatever has focus; send stray keystrokes to the input.
    if (document.activeElement === document.body && event.key.length === 1) {
      input.focus();
    }
  });

  var button = document.getElementById("camera-button");
  var box = document.getElementById("camera");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !button || !video) {
    return;
  }

  var detector = null;
  var stream = null;
  var scanning = false;

  function stop() {
    scanning = false;
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    box.hidden = true;
  }

  function scan() {
    if (!scanning) {
      return;
    }
    detector.detect(video).then(function (codes) {
      var found = codes.length ? String(codes[0].rawValue || "").trim() : "";
      if (found) {
        stop();
        input.value = found;
        form.submit();
        return;
      }
      window.requestAnimationFrame(scan);
    }).catch(function () {
      window.setTimeout(scan, 250);
    });
  }

  window.BarcodeDetector.getSupportedFormats().then(function (formats) {
    if (formats.indexOf("qr_code") === -1) {
      return;
    }
    detector = new window.BarcodeDetector({ formats: ["qr_code", "code_128", "code_39"].filter(function (f) {
      return formats.indexOf(f) !== -1;
    }) });
    button.hidden = false;
    button.addEventListener("click", function () {
      if (scanning) {
        stop();
        return;
      }
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (media) {
          stream = media;
          video.srcObject = media;
          box.hidden = false;
          scanning = true;
          return video.play();
        })
        .then(scan)
        .catch(function (error) {
          stop();
          box.hidden = false;
          status.textContent = button.dataset.denied || String(error && error.name || error);
        });
    });
  }).catch(function () { /* no camera formats: typed and scanned codes only */ });
})();
