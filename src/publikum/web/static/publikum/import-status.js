/* Import report: while an import runs, fetch the page again every few seconds and swap in
   the report, so the counts move and the result appears without a manual reload. Without
   JavaScript the page has a "Refresh" link. */
(function () {
  "use strict";
  var INTERVAL_MS = 2000;
  var MAX_POLLS = 1800; // an hour; after that the link is there
  var polls = 0;

  function schedule() {
    var report = document.getElementById("import-report");
    if (!report || !report.dataset.refresh || polls >= MAX_POLLS) {
      return;
    }
    polls += 1;
    window.setTimeout(function () {
      fetch(report.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          var next = new DOMParser().parseFromString(html, "text/html").getElementById("import-report");
          if (next) {
            report.replaceWith(next);
          }
          schedule();
        })
        .catch(function () {
          schedule();
        });
    }, INTERVAL_MS);
  }

  schedule();
})();
