/* shoptrack's onsite tracker: sends Viewed Product, Added to Cart and Started Checkout from a
   store's pages to shoptrack's /client/events (Klaviyo's form), recorded on the integration's
   metrics. Served by shoptrack at /static/shoptrack.js, which sets VERSION; no dependencies.

     <script src="https://SHOPTRACK/static/shoptrack.js?v=VERSION" async
             data-public-key="PUBLIC_KEY" data-integration="INTEGRATION_ID"></script>

   Calls made before it loads wait in a queue (as Klaviyo's _learnq):
     window.shoptrack = window.shoptrack || function () {
       (window.shoptrack.q = window.shoptrack.q || []).push(arguments); };
     shoptrack("init", {publicKey: "...", integration: "..."});
     shoptrack("identify", {email: "ada@example.com"});

   Events of a visitor not identified yet are kept in localStorage (with the visitor's stable
   anonymous id) and sent, with their own times, once identify() names them: /client/events
   records events of people known by an email, a phone number or an external id. */
(function (window) {
  "use strict";

  var VERSION = "__SHOPTRACK_VERSION__";
  // Klaviyo's API revision whose /client/events form the tracker sends.
  var REVISION = "2025-01-15";
  var STORAGE_PREFIX = "shoptrack:";
  // Events kept while the visitor is anonymous (or offline): the newest this many, this long.
  var KEEP_EVENTS = 50;
  var KEEP_MILLISECONDS = 7 * 24 * 3600 * 1000;
  var IDENTIFIERS = ["email", "phone_number", "external_id"];
  var PROFILE_FIELDS = IDENTIFIERS.concat(["first_name", "last_name"]);
  // Klaviyo's names of the added item's properties on Added to Cart.
  var ADDED_ITEM = {
    ProductID: "AddedItemProductID",
    ProductName: "AddedItemProductName",
    SKU: "AddedItemSKU",
    Categories: "AddedItemCategories",
    ImageURL: "AddedItemImageURL",
    ProductURL: "AddedItemURL",
    ItemPrice: "AddedItemPrice",
    Quantity: "AddedItemQuantity"
  };

  if (window.shoptrack && window.shoptrack.version) {
    return; // included twice: the first copy serves
  }

  var config = { publicKey: null, integration: null, endpoint: null, currency: null };
  var memory = {}; // where localStorage is refused (some private modes)
  var sending = {};

  function warn(message) {
    if (window.console) {
      window.console.warn("shoptrack: " + message);
    }
  }

  function read(name) {
    var text;
    try {
      text = window.localStorage.getItem(STORAGE_PREFIX + name);
    } catch (refused) {
      text = memory[name];
    }
    try {
      return text ? JSON.parse(text) : null;
    } catch (garbled) {
      return null;
    }
  }

  function write(name, value) {
    var text = JSON.stringify(value);
    try {
      window.localStorage.setItem(STORAGE_PREFIX + name, text);
    } catch (refused) {
      memory[name] = text;
    }
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (byte) { return (byte + 256).toString(16).slice(1); })
      .join("");
  }

  function anonymousId() {
    var id = read("anonymous_id");
    if (!id) {
      id = "anon-" + randomId();
      write("anonymous_id", id);
    }
    return id;
  }

  function amount(value) {
    var number = Number(value);
    // /client/events takes at most four decimal places.
    return isFinite(number) && value !== null && value !== "" ? Math.round(number * 1e4) / 1e4 : null;
  }

  function init(options) {
    options = options || {};
    ["publicKey", "integration", "endpoint", "currency"].forEach(function (name) {
      if (options[name]) {
        config[name] = String(options[name]);
      }
    });
    if (options.email) {
      identify({ email: options.email });
    } else {
      flush();
    }
  }

  /* Names the visitor: an email (or phone_number, external_id), with first_name and last_name
     if known; Klaviyo's "$email" spellings are read too. Sends what was kept meanwhile. */
  function identify(person) {
    person = person || {};
    var profile = {};
    PROFILE_FIELDS.forEach(function (name) {
      var value = person[name] !== undefined ? person[name] : person["$" + name];
      if (value !== undefined && value !== null && String(value).trim()) {
        profile[name] = String(value).trim();
      }
    });
    if (!IDENTIFIERS.some(function (name) { return profile[name]; })) {
      warn("identify() needs an email, a phone_number or an external_id");
      return Promise.resolve(false);
    }
    write("profile", profile);
    return flush();
  }

  /* Forgets who the visitor is (on signing out): a new anonymous id, nothing kept. */
  function reset() {
    write("profile", null);
    write("anonymous_id", null);
    write("queue", []);
  }

  /* Records ``metric`` with ``properties``; ``options``: value, currency, uniqueId. Resolves
     to true once shoptrack accepted it, false while it is kept (anonymous visitor, offline). */
  function track(metric, properties, options) {
    if (!metric) {
      warn("track() needs a metric name");
      return Promise.resolve(false);
    }
    options = options || {};
    properties = Object.assign({}, properties);
    properties.$tracker_version = VERSION;
    var value = amount(options.value !== undefined ? options.value : properties.$value);
    var event = {
      metric: String(metric),
      properties: properties,
      time: new Date().toISOString(),
      unique_id: options.uniqueId ? String(options.uniqueId) : randomId()
    };
    if (value !== null) {
      event.value = value;
      var currency = options.currency || config.currency;
      if (currency) {
        event.value_currency = String(currency);
      }
    }
    var queue = read("queue") || [];
    queue.push(event);
    write("queue", queue.slice(-KEEP_EVENTS));
    return flush().then(function (accepted) { return accepted.indexOf(event.unique_id) >= 0; });
  }

  function rowTotal(item) {
    var given = amount(item.RowTotal);
    if (given !== null) {
      return given;
    }
    var price = amount(item.ItemPrice);
    return price === null ? null : amount(price * (item.Quantity === undefined ? 1 : item.Quantity));
  }

  function withRowTotals(items) {
    return (items || []).map(function (item) {
      var total = rowTotal(item);
      return total === null ? item : Object.assign({}, item, { RowTotal: total });
    });
  }

  function cartValue(items) {
    return amount(items.reduce(function (sum, item) { return sum + (item.RowTotal || 0); }, 0));
  }

  function itemNames(items) {
    return items.map(function (item) { return item.ProductName; }).filter(Boolean);
  }

  /* product: ProductID, ProductName, SKU, Price, URL, ImageURL, Categories, Brand… */
  function viewedProduct(product) {
    var properties = Object.assign({ URL: window.location.href }, product);
    return track("Viewed Product", properties, { value: properties.Price });
  }

  /* item: ProductID, ProductName, SKU, ItemPrice, Quantity, ProductURL, ImageURL, Categories…;
     cart (optional): Items (the whole cart, item included), CheckoutURL, $value. */
  function addedToCart(item, cart) {
    item = item || {};
    cart = cart || {};
    var properties = {};
    Object.keys(ADDED_ITEM).forEach(function (name) {
      if (item[name] !== undefined) {
        properties[ADDED_ITEM[name]] = item[name];
      }
    });
    var items = withRowTotals(cart.Items || [item]);
    properties.Items = items;
    properties.ItemNames = itemNames(items);
    if (cart.CheckoutURL) {
      properties.CheckoutURL = cart.CheckoutURL;
    }
    properties.$value = cart.$value !== undefined ? amount(cart.$value) : cartValue(items);
    return track("Added to Cart", properties, { value: properties.$value });
  }

  /* checkout: CheckoutID (one Started Checkout per checkout), Items, CheckoutURL, $value… */
  function startedCheckout(checkout) {
    checkout = checkout || {};
    var items = withRowTotals(checkout.Items);
    var properties = Object.assign({}, checkout, { Items: items, ItemNames: itemNames(items) });
    var categories = [];
    items.forEach(function (item) {
      [].concat(item.Categories || []).forEach(function (category) {
        if (categories.indexOf(category) < 0) {
          categories.push(category);
        }
      });
    });
    properties.Categories = categories;
    properties.$value = checkout.$value !== undefined ? amount(checkout.$value) : cartValue(items);
    var id = checkout.CheckoutID;
    if (id !== undefined && id !== null) {
      properties.$event_id = String(id);
    }
    return track("Started Checkout", properties, {
      value: properties.$value,
      uniqueId: properties.$event_id ? "checkout-" + properties.$event_id : null
    });
  }

  function profileNow() {
    var anonymous = anonymousId(); // made on the first page, kept: it links the visits
    var profile = read("profile");
    return profile ? Object.assign({}, profile, { anonymous_id: anonymous }) : null;
  }

  function post(event, profile) {
    var attributes = Object.assign({}, event, {
      metric: { data: { type: "metric", attributes: { name: event.metric } } },
      profile: { data: { type: "profile", attributes: profile } }
    });
    var url =
      config.endpoint.replace(/\/+$/, "") +
      "/client/events?company_id=" + encodeURIComponent(config.publicKey) +
      (config.integration ? "&integration_id=" + encodeURIComponent(config.integration) : "");
    return window.fetch(url, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: true, // the request outlives the page: "add to cart" often navigates away
      headers: { "content-type": "application/json", revision: REVISION },
      body: JSON.stringify({ data: { type: "event", attributes: attributes } })
    }).then(
      function (answer) {
        if (answer.ok) {
          return "accepted";
        }
        if (answer.status === 429 || answer.status >= 500) {
          return "retry";
        }
        answer.text().then(function (text) { warn(event.metric + " refused: " + text); });
        return "refused";
      },
      function () { return "retry"; } // offline, or the page went away: kept for later
    );
  }

  /* Sends the kept events once the visitor is known and the tracker configured. Each leaves the
     queue before it is sent; one that could not be delivered goes back (its unique_id makes a
     repeat harmless). Resolves to the unique ids shoptrack accepted. */
  function flush() {
    var profile = profileNow();
    var queue = read("queue") || [];
    var oldest = Date.now() - KEEP_MILLISECONDS;
    var fresh = queue.filter(function (event) { return Date.parse(event.time) >= oldest; });
    if (!profile || !config.publicKey || !config.endpoint) {
      if (fresh.length !== queue.length) {
        write("queue", fresh);
      }
      return Promise.resolve([]);
    }
    var due = fresh.filter(function (event) { return !sending[event.unique_id]; });
    write("queue", fresh.filter(function (event) { return sending[event.unique_id]; }));
    return Promise.all(
      due.map(function (event) {
        sending[event.unique_id] = true;
        return post(event, profile).then(function (outcome) {
          delete sending[event.unique_id];
          if (outcome === "retry") {
            var kept = read("queue") || [];
            kept.push(event);
            write("queue", kept.slice(-KEEP_EVENTS));
          }
          return outcome === "accepted" ? event.unique_id : null;
        });
      })
    ).then(function (ids) { return ids.filter(Boolean); });
  }

  var methods = {
    init: init,
    identify: identify,
    track: track,
    viewedProduct: viewedProduct,
    addedToCart: addedToCart,
    startedCheckout: startedCheckout,
    reset: reset
  };

  function shoptrack(method) {
    if (!Object.prototype.hasOwnProperty.call(methods, method)) {
      warn("no method " + method + "; there are " + Object.keys(methods).join(", "));
      return Promise.resolve(false);
    }
    return methods[method].apply(null, Array.prototype.slice.call(arguments, 1));
  }
  Object.keys(methods).forEach(function (name) { shoptrack[name] = methods[name]; });
  shoptrack.version = VERSION;
  shoptrack.push = function (call) { return shoptrack.apply(null, call); };

  var waiting = window.shoptrack;
  var queued = Array.isArray(waiting) ? waiting : (waiting && waiting.q) || [];
  window.shoptrack = shoptrack;

  var script = window.document.currentScript ||
    window.document.querySelector("script[data-public-key][src*='shoptrack.js']");
  if (script) {
    config.endpoint = new URL(script.src, window.location.href).origin;
    init({
      publicKey: script.getAttribute("data-public-key"),
      integration: script.getAttribute("data-integration"),
      endpoint: script.getAttribute("data-endpoint"),
      currency: script.getAttribute("data-currency"),
      email: script.getAttribute("data-email")
    });
  }
  Array.prototype.forEach.call(queued, function (call) { shoptrack.push(call); });
})(window);
