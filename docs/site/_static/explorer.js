/* The course's live explorers on the website, without a kernel: image, class, layer and method controls that
 * redraw the image and its map from the maps computed when the site was built (course_utils/live_explorer.py:
 * _static/explorer/explorer.json and maps.bin.gz). Plain JavaScript, nothing from another host.
 * Drawn on a canvas, one image pixel as SCALE x SCALE screen pixels: the image, the map over it
 * (image * (1 - alpha) + alpha * colour, rounded half up; the course colour map's 256 colours), a colour bar. */
(function () {
  "use strict";
  var SCALE = 8, GAP = 16, BAR = 20, NOTE_ALPHA = 0.3;
  var base = new URL("explorer/", document.currentScript ? document.currentScript.src : location.href);

  function load() {
    var index = fetch(new URL("explorer.json", base)).then(function (r) {
      if (!r.ok) throw new Error("explorer.json: HTTP " + r.status);
      return r.json();
    });
    var maps = fetch(new URL("maps.bin.gz", base)).then(function (r) {
      if (!r.ok) throw new Error("maps.bin.gz: HTTP " + r.status);
      return r.arrayBuffer();
    }).then(function (buf) {
      var b = new Uint8Array(buf);
      if (b.length > 1 && b[0] === 0x1f && b[1] === 0x8b) {  // still gzip (the server did not decode it)
        var stream = new Blob([b]).stream().pipeThrough(new DecompressionStream("gzip"));
        return new Response(stream).arrayBuffer().then(function (out) { return new Uint8Array(out); });
      }
      return b;
    });
    return Promise.all([index, maps]);
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Bilinear resize weights along one axis, as TensorFlow's tf.image.resize (half-pixel centres); the same
  // arithmetic as course_utils/live_explorer.py's _axis and upsample, so that both give the same bytes.
  function axis(nIn, nOut) {
    var lo = [], hi = [], t = [];
    for (var i = 0; i < nOut; i++) {
      var where = (i + 0.5) * (nIn / nOut) - 0.5, f = Math.floor(where);
      lo.push(Math.max(f, 0)); hi.push(Math.min(Math.ceil(where), nIn - 1)); t.push(where - f);
    }
    return { lo: lo, hi: hi, t: t };
  }

  // A stored low-resolution map (uint16, little-endian) resized to h x w as TensorFlow does, scaled to its peak.
  function resized(bytes, lh, lw, h, w) {
    var a = new Float64Array(lh * lw), up = new Float64Array(h * w), peak = 0;
    for (var j = 0; j < a.length; j++) a[j] = bytes[2 * j] + 256 * bytes[2 * j + 1];
    var Y = axis(lh, h), X = axis(lw, w);
    for (var y = 0; y < h; y++) {
      for (var x = 0; x < w; x++) {
        var r0 = Y.lo[y] * lw, r1 = Y.hi[y] * lw, c0 = X.lo[x], c1 = X.hi[x], tx = X.t[x];
        var top = a[r0 + c0] + (a[r0 + c1] - a[r0 + c0]) * tx;
        var bottom = a[r1 + c0] + (a[r1 + c1] - a[r1 + c0]) * tx;
        var v = top + (bottom - top) * Y.t[y];
        up[y * w + x] = v;
        if (v > peak) peak = v;
      }
    }
    for (var k = 0; k < up.length; k++) up[k] = peak > 0 ? up[k] / peak : 0;
    return up;
  }

  function quantize(v) { return Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5); }

  // Stored signed gradients (int16, little-endian) as numbers.
  function signed(bytes) {
    var out = new Float64Array(bytes.length / 2);
    for (var j = 0; j < out.length; j++) {
      var v = bytes[2 * j] + 256 * bytes[2 * j + 1];
      out[j] = v >= 32768 ? v - 65536 : v;
    }
    return out;
  }

  // The 99th percentile of |g|, as numpy's np.percentile (linear); live_explorer.percentile99 in Python.
  function percentile99(g) {
    var a = Float64Array.from(g, Math.abs).sort(), where = 0.99 * (a.length - 1), i = Math.floor(where);
    var t = where - i, lo = a[i], hi = a[Math.min(i + 1, a.length - 1)];
    return t >= 0.5 ? hi - (hi - lo) * (1 - t) : lo + (hi - lo) * t;
  }

  // Signed gradients as the course shows them (viz.gradient_image): 0.5 is zero, scaled by the 99th percentile.
  function gradientPicture(g) {
    var scale = percentile99(g), out = new Uint8Array(g.length);
    for (var j = 0; j < g.length; j++) out[j] = quantize(scale > 0 ? 0.5 + 0.5 * g[j] / scale : 0.5);
    return out;
  }

  function bytesOf(ix, raw, slot, image, cls) {
    var per = slot.shape[0] * slot.shape[1] * slot.channels * slot.bytes;
    var k = slot.per_class ? image * ix.class_names.length + cls : image;
    return raw.subarray(slot.offset + k * per, slot.offset + (k + 1) * per);
  }

  // The map the page draws for one combination: 8-bit values (h x w, or h x w x 3 for a gradient method).
  function mapOf(ix, raw, image, cls, layer, method) {
    var m = ix.methods.filter(function (x) { return x.name === method; })[0];
    var slot = ix.slots[method + "|" + (m.takes_layer ? layer : "")];
    if (!slot) return null;
    var h = ix.size[0], w = ix.size[1], data;
    if (slot.kind === "product") {  // guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM
      var gs = ix.slots[slot.of[0]], cs = ix.slots[slot.of[1]];
      var g = signed(bytesOf(ix, raw, gs, image, cls));
      var cam = resized(bytesOf(ix, raw, cs, image, cls), cs.shape[0], cs.shape[1], h, w);
      for (var j = 0; j < g.length; j++) g[j] = g[j] * cam[Math.floor(j / 3)];
      data = gradientPicture(g);
    } else {
      data = bytesOf(ix, raw, slot, image, cls);
      if (slot.kind === "low") data = Uint8Array.from(resized(data, slot.shape[0], slot.shape[1], h, w), quantize);
      else if (slot.kind === "signed") data = gradientPicture(signed(data));
    }
    var gradient = slot.channels === 3;
    return { kind: gradient ? "gradient" : "heat", channels: slot.channels, data: data };
  }

  function draw(ctx, ix, raw, image, cls, layer, method) {
    var h = ix.size[0], w = ix.size[1], W = 2 * w * SCALE + 2 * GAP + BAR, H = h * SCALE;
    var out = ctx.createImageData(W, H), px = out.data, a = ix.alpha;
    var img = raw.subarray(ix.images_offset + image * h * w * 3, ix.images_offset + (image + 1) * h * w * 3);
    var m = mapOf(ix, raw, image, cls, layer, method);
    for (var i = 0; i < px.length; i += 4) { px[i] = px[i + 1] = px[i + 2] = 255; px[i + 3] = 255; }
    function put(x0, y, x, rgb) {
      for (var dy = 0; dy < SCALE; dy++) {
        for (var dx = 0; dx < SCALE; dx++) {
          var o = ((y * SCALE + dy) * W + x0 + x * SCALE + dx) * 4;
          px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2];
        }
      }
    }
    var x0 = w * SCALE + GAP;
    for (var y = 0; y < h; y++) {
      for (var x = 0; x < w; x++) {
        var p = (y * w + x) * 3, c = [img[p], img[p + 1], img[p + 2]], r;
        put(0, y, x, c);
        if (m === null) {
          r = c.map(function (v) { return Math.floor(NOTE_ALPHA * v + (1 - NOTE_ALPHA) * 255 + 0.5); });
        } else if (m.channels === 3) {
          r = [m.data[p], m.data[p + 1], m.data[p + 2]];
        } else {
          var col = ix.lut[m.data[y * w + x]];
          r = [0, 1, 2].map(function (j) { return Math.floor((1 - a) * c[j] + a * col[j] + 0.5); });
        }
        put(x0, y, x, r);
      }
    }
    var heat = m !== null && m.kind === "heat", xb = 2 * w * SCALE + 2 * GAP;
    for (var yy = 0; yy < H && heat; yy++) {
      var colour = ix.lut[255 - Math.floor(yy * 256 / H)];
      for (var xx = 0; xx < BAR; xx++) {
        var o = (yy * W + xb + xx) * 4;
        px[o] = colour[0]; px[o + 1] = colour[1]; px[o + 2] = colour[2];
      }
    }
    ctx.putImageData(out, 0, 0);
    var empty = heat && m.data.every(function (v) { return v === 0; });
    return { error: m === null, empty: empty, gradient: m !== null && m.kind === "gradient" };
  }

  function build(box, ix, raw) {
    var h = ix.size[0], w = ix.size[1];
    var start = parseInt(box.dataset.image || "0", 10);
    if (!(start >= 0 && start < ix.n_images)) start = 0;
    var controls = el("div", { "class": "live-explorer-controls" });
    function field(label, input) {
      var l = el("label", {}, label + " ");
      l.style.marginRight = "1.2em";
      l.style.whiteSpace = "nowrap";
      l.appendChild(input);
      controls.appendChild(l);
      return input;
    }
    var image = field("image", el("input", { type: "range", min: "0", max: String(ix.n_images - 1), step: "1",
      value: String(start), "class": "live-image", "aria-label": "image" }));
    var imageValue = el("output", { "class": "live-image-value" }, String(start));
    controls.lastChild.appendChild(imageValue);
    var cls = field("class", el("select", { "class": "live-class", "aria-label": "class" }));
    cls.appendChild(el("option", { value: "-1" }, "predicted"));
    ix.class_names.forEach(function (n, i) { cls.appendChild(el("option", { value: String(i) }, n)); });
    var layer = field("layer", el("select", { "class": "live-layer", "aria-label": "layer" }));
    ix.layers.forEach(function (n) { layer.appendChild(el("option", { value: n }, n)); });
    var method = field("method", el("select", { "class": "live-method", "aria-label": "method" }));
    ix.methods.forEach(function (m) { method.appendChild(el("option", { value: m.name }, m.name)); });
    function pick(select, value) {
      if (value && [].some.call(select.options, function (o) { return o.value === value; })) select.value = value;
    }
    cls.value = "-1";
    pick(cls, box.dataset.class);
    layer.value = ix.layers[ix.layers.length - 1];
    pick(layer, box.dataset.layer);
    method.value = "Grad-CAM";
    pick(method, box.dataset.method);
    // a notebook's explorer of image and class only (notebook 04: CAM at the last layer): the same two controls
    (box.dataset.fixed || "").split(" ").forEach(function (name) {
      var select = name === "layer" ? layer : (name === "method" ? method : null);
      if (select) { select.disabled = true; select.parentNode.hidden = true; }
    });
    var title = el("p", { "class": "live-explorer-title" });
    var canvas = el("canvas", { width: String(2 * w * SCALE + 2 * GAP + BAR), height: String(h * SCALE),
      "class": "live-explorer-canvas", role: "img" });
    canvas.style.maxWidth = "100%";
    var note = el("p", { "class": "live-explorer-note" });
    var text = el("p", { "class": "live-explorer-text", "aria-live": "polite" });
    box.textContent = "";
    [controls, title, canvas, note, text].forEach(function (e) { box.appendChild(e); });
    var ctx = canvas.getContext("2d");

    function redraw() {
      var i = parseInt(image.value, 10), c = parseInt(cls.value, 10), mth = method.value;
      var takes = ix.methods.filter(function (x) { return x.name === mth; })[0].takes_layer;
      if (!layer.parentNode.hidden) layer.disabled = !takes;
      if (c < 0) c = ix.predicted[i];
      imageValue.textContent = String(i);
      var r = draw(ctx, ix, raw, i, c, layer.value, mth);
      var name = ix.class_names[c];
      title.textContent = "true: " + ix.class_names[ix.labels[i]] + ". " + mth + " for '" + name + "'" +
        (takes ? " at " + layer.value : "");
      note.textContent = r.error ? ix.cam_note : (r.empty ? ix.empty_note : "");
      text.textContent = ix.top3[i];
      canvas.setAttribute("aria-label", title.textContent);
      box.dataset.drawn = [i, c, layer.value, mth].join("|");
    }
    [image, cls, layer, method].forEach(function (e) { e.addEventListener("input", redraw); e.addEventListener("change", redraw); });
    redraw();
    box.classList.add("live-explorer-ready");
  }

  function start() {
    var boxes = document.querySelectorAll("div.live-explorer");
    if (!boxes.length) return;
    load().then(function (d) {
      boxes.forEach(function (box) { build(box, d[0], d[1]); });
    }).catch(function (err) {
      boxes.forEach(function (box) { box.textContent = "The explorer's data could not be loaded (" + err.message + ")."; });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
