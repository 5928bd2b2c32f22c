/* trialfinder widget. On any page, one line:
 *   <script src="https://HOST/widget.js" data-drug="blinatumomab" async></script>
 * Options (data- attributes): status, limit, country, condition, phase, registry, near (a city,
 * a US ZIP code or "lat,lon"), radius ("50km", "30mi"), site-status (open, any), age, sex,
 * healthy-volunteers, near-me ("true": a "Trials near me" button), theme (light, dark, auto),
 * heading-level (2-5). The button reads the browser's location only when the visitor presses
 * it, and sends it, rounded to about a kilometre, to this widget's own server alone.
 * It draws in a shadow root, so the page's CSS cannot break it, and sets every text
 * from the registry with textContent: registry text is data, never markup.
 * The same rules as trialfinder/web/present.py, in JavaScript. */
(function () {
  "use strict";
  var CSS = __WIDGET_CSS__;
  var REGISTRY = "https://clinicaltrials.gov/";
  var REGISTRY_NAMES = {ctgov: "ClinicalTrials.gov", ctis: "EU CTIS", isrctn: "ISRCTN",
    nci_cts: "NCI CTS"};
  var REGISTRY_HOMES = {ctgov: REGISTRY, ctis: "https://euclinicaltrials.eu/",
    isrctn: "https://www.isrctn.com/", nci_cts: "https://www.cancer.gov/research/participate/clinical-trials-search"};

  var script = document.currentScript;
  if (!script || !script.hasAttribute("data-drug")) {
    var found = document.querySelectorAll("script[data-drug]");
    script = null;
    for (var i = 0; i < found.length; i++) {
      if (/\/widget\.js(\?|#|$)/.test(found[i].src) && !found[i].hasAttribute("data-tf-drawn")) {
        script = found[i];
        break;
      }
    }
  }
  if (!script || script.hasAttribute("data-tf-drawn")) return;
  script.setAttribute("data-tf-drawn", "");

  var origin = new URL(script.src, document.baseURI).origin;
  var data = script.dataset;
  var drug = (data.drug || "").trim();
  var theme = /^(light|dark|auto)$/.test(data.theme || "") ? data.theme : "light";
  var limit = Math.min(Math.max(parseInt(data.limit, 10) || 5, 1), 100);
  var level = Math.min(Math.max(parseInt(data.headingLevel, 10) || 2, 2), 5);

  var host = document.createElement("div");
  host.className = "trialfinder-widget";
  script.parentNode.insertBefore(host, script.nextSibling);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  addStyle(root);

  var box = el("section", "tf tf-" + theme);
  var heading = el("h" + level, "tf-heading", "Clinical trials of " + (drug || "a drug"));
  heading.id = "tf-heading";
  box.setAttribute("aria-labelledby", "tf-heading");
  var meta = el("p", "tf-meta", "Loading trials…");
  meta.setAttribute("aria-live", "polite");
  box.appendChild(heading);
  box.appendChild(meta);
  root.appendChild(box);

  var near = (data.near || "").trim();  // the place asked about: data-near, or "near me"
  var list = null;

  if (!drug) {
    meta.textContent = "This widget needs a data-drug attribute naming the drug.";
    return;
  }
  if (data.nearMe === "true" && navigator.geolocation) box.appendChild(nearMeButton());
  load(0);

  function nearMeButton() {
    var button = el("button", "tf-near-me", "Trials near me");
    button.type = "button";
    button.addEventListener("click", function () {
      button.disabled = true;
      meta.textContent = "Finding where you are…";
      navigator.geolocation.getCurrentPosition(function (position) {
        var c = position.coords;  // rounded: about a kilometre is all a distance needs
        near = c.latitude.toFixed(2) + "," + c.longitude.toFixed(2);
        button.disabled = false;
        load(0);
      }, function () {
        button.disabled = false;
        meta.textContent = "Your location could not be read; the list is as before.";
      }, { maximumAge: 600000, timeout: 20000 });
    });
    return button;
  }

  function addStyle(target) {
    // A constructed stylesheet is not inline style, so a host page's CSP allows it.
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      target.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement("style");
      style.textContent = CSS;
      target.appendChild(style);
    }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function link(href, text) {
    var a = el("a", null, text);
    if (/^https?:\/\//i.test(href || "")) a.href = href;
    return a;
  }

  function query() {
    var params = new URLSearchParams();
    params.set("status", data.status || "open");
    params.set("limit", String(limit));
    ["country", "condition", "phase", "registry", "age", "sex"].forEach(function (name) {
      if (data[name]) params.set(name, data[name]);
    });
    if (data.healthyVolunteers === "true") params.set("healthy_volunteers", "true");
    if (near) {
      params.set("near", near);
      if (data.radius) params.set("radius", data.radius);
      else if (data.radiusKm) params.set("radius_km", data.radiusKm);
      if (data.siteStatus) params.set("site_status", data.siteStatus);
    }
    return params.toString();
  }

  // In the unit the radius was given in (data-radius="30mi"), as the CLI does.
  var inMiles = /^\s*[0-9.]+\s*mi/i.test(data.radius || "");

  function distanceLabel(km) {
    return inMiles ? (Number(km) / 1.609344).toFixed(1) + " mi" : Number(km).toFixed(1) + " km";
  }

  function load(attempt) {
    var url = origin + "/api/v1/drugs/" + encodeURIComponent(drug) + "/trials?" + query();
    fetch(url, { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          return { response: response, body: body };
        });
      })
      .then(function (answer) {
        var status = answer.response.status;
        if (status === 503 && attempt < 4) {
          var wait = parseInt(answer.response.headers.get("Retry-After"), 10) || 5;
          meta.textContent = "Fetching trials from the registry…";
          setTimeout(function () { load(attempt + 1); }, Math.min(wait, 30) * 1000);
          return;
        }
        if (!answer.response.ok) return fail(answer.body && answer.body.error);
        draw(answer.body);
      })
      .catch(function () { fail(null); });
  }

  function fail(error) {
    meta.textContent = "";
    var message = "The trials could not be loaded just now.";
    if (error && error.code === "bad_input" && error.message) message = error.message + ".";
    if (error && error.code === "unknown_drug") {
      message = "No drug is called “" + drug + "”.";
      if (error.suggestions && error.suggestions.length) {
        message += " Did you mean: " + error.suggestions.join(", ") + "?";
      }
    }
    var p = el("p", "tf-error", message + " ");
    p.appendChild(link(REGISTRY + "search?intr=" + encodeURIComponent(drug),
      "Search ClinicalTrials.gov"));
    box.appendChild(p);
  }

  function draw(page) {
    var name = (page.drug && page.drug.name) || drug;
    heading.textContent = "Clinical trials of " + name;
    var trials = page.trials || [];
    var count = page.page ? page.page.count : trials.length;
    meta.textContent = summary(trials.length, count, page.query && page.query.status) +
      (page.near ? " near " + page.near.place : "") + " · Updated " + ago(page.fetched_at);
    if (list) box.removeChild(list);  // drawn again, near the visitor
    var old = box.querySelector(".tf-source");
    if (old) box.removeChild(old);
    if (trials.length) {
      list = el("ol", "tf-list");
      list.setAttribute("role", "list");
      trials.forEach(function (trial) { list.appendChild(item(trial)); });
    } else {
      list = el("p", "tf-empty", "No trials match.");
    }
    box.appendChild(list);
    var source = el("p", "tf-source", "Source: ");
    (page.registries || ["ctgov"]).forEach(function (registry, n) {
      if (n) source.appendChild(document.createTextNode(", "));
      source.appendChild(link(REGISTRY_HOMES[registry] || REGISTRY, registryName(registry)));
    });
    if (count > trials.length) {
      source.appendChild(document.createTextNode(" · "));
      source.appendChild(link(REGISTRY + "search?intr=" + encodeURIComponent(name),
        "All " + count + " trials"));
    }
    box.appendChild(source);
  }

  function item(trial) {
    var li = el("li", "tf-trial");
    var title = el("h" + Math.min(level + 1, 6), "tf-title");
    title.appendChild(link(trial.url, trial.title));
    li.appendChild(title);
    var status = el("p", "tf-status");
    var badge = el("span", "tf-badge", statusLabel(trial.status));
    if (trial.status_category === "open") badge.className += " tf-open";
    status.appendChild(badge);
    var phases = phaseLabel(trial.phases || []);
    if (phases) status.appendChild(el("span", "tf-phase", phases));
    li.appendChild(status);
    if (trial.conditions && trial.conditions.length) {
      var conditions = el("p", "tf-conditions");
      conditions.appendChild(el("span", "tf-label", "Conditions:"));
      conditions.appendChild(document.createTextNode(" " + trial.conditions.join("; ")));
      li.appendChild(conditions);
    }
    var sites = trial.sites || [];
    var site = trial.nearest_site || sites[0];
    if (site) {
      var where = el("p", "tf-site");
      where.appendChild(el("span", "tf-label", trial.nearest_site ? "Nearest site:" : "Site:"));
      var text = " " + siteLabel(site);
      var more = sites.length - 1;
      if (trial.nearest_site) {
        text += " (" + distanceLabel(site.distance_km) + ")";
        more = trial.more_sites_within_radius || 0;
      }
      if (more > 0) {
        text += " · " + more + " more site" + (more === 1 ? "" : "s") +
          (trial.nearest_site ? " within the radius" : "");
      }
      where.appendChild(document.createTextNode(text));
      li.appendChild(where);
    }
    var contact = contactLabel((trial.nearest_site && trial.nearest_site.contact) ||
      (trial.central_contacts || [])[0]);
    if (contact) {
      var call = el("p", "tf-contact");
      call.appendChild(el("span", "tf-label", "Contact:"));
      call.appendChild(document.createTextNode(" " + contact));
      li.appendChild(call);
    }
    var ids = [registryName(trial.registry) + " " + trial.id];
    (trial.also_registered || []).forEach(function (other) {
      ids.push(registryName(other.registry) + " " + other.id);
    });
    li.appendChild(el("p", "tf-id", ids.join(" · ")));
    return li;
  }

  function registryName(registry) {
    return REGISTRY_NAMES[registry] || String(registry || "");
  }

  function summary(shown, count, status) {
    var kind = status === "open" ? "open " : status === "recruiting" ? "recruiting " : "";
    var noun = count === 1 ? "trial" : "trials";
    return shown < count ? shown + " of " + count + " " + kind + noun : count + " " + kind + noun;
  }

  function statusLabel(status) {
    var text = String(status || "").replace(/_/g, " ").toLowerCase();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function phaseLabel(phases) {
    var names = [];
    for (var i = 0; i < phases.length; i++) {
      if (phases[i] === "NA") return "Phase not applicable";
      names.push(phases[i].indexOf("EARLY_PHASE") === 0
        ? "early " + phases[i].slice(11) : phases[i].replace("PHASE", ""));
    }
    return names.length ? "Phase " + names.join("/") : "";
  }

  function siteLabel(site) {
    var parts = [];
    [site.facility, site.city, site.state, site.country].forEach(function (part) {
      if (part && parts.indexOf(part) < 0) parts.push(part);
    });
    return parts.join(", ");
  }

  function contactLabel(contact) {
    if (!contact) return "";
    return [contact.name, contact.phone, contact.email].filter(Boolean).join(", ");
  }

  function ago(iso) {
    var seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var n = Math.floor(seconds / units[i][1]);
        return n + " " + units[i][0] + (n === 1 ? "" : "s") + " ago";
      }
    }
    return "just now";
  }
})();
