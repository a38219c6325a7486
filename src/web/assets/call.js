// subtext: one call (serve mode and self-contained report mode). Vanilla JS, no
// dependencies, no imports: `subtext report` inlines this file into the page, so it
// must never contain the character sequences that end a script element or open an
// HTML comment. All transcript data goes into the DOM through textContent and
// attributes, never as HTML.
(function () {
  'use strict';

  var SVGNS = 'http://www.w3.org/2000/svg';
  var NEGATIVE = { anger: 1, frustration: 1, disappointment: 1, sadness: 1, worry: 1, uncertainty: 1, distrust: 1 };
  var POSITIVE = { relief: 1, trust: 1, appreciation: 1, joy: 1 };
  var SPEAKER_NAMES = { agent: 'Agent', customer: 'Customer', unknown: 'Speaker' };
  var PLACEHOLDER = /\[[A-Z][A-Z0-9_]*\]/g;
  var CURVE_H = 180;
  var PAD = { l: 40, r: 12, t: 10, b: 34 };

  var S = {
    data: null,
    report: false,
    audioOk: false,     // a source is set and has not failed
    t: 0,               // the playback position the page shows (seconds)
    duration: 0,
    turns: [],          // [{turn, el}] in time order
    currentIdx: -1,
    userScrollAt: -1e9,
    raf: 0,
    curve: null,        // {w, h, x0, x1, y0, y1, cursor, hover}
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svgEl(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function safeClass(s) { return String(s == null ? '' : s).replace(/[^a-z0-9_-]/gi, ''); }

  function human(id) { return id == null ? '' : String(id).replace(/_/g, ' '); }

  function pct(x) { return typeof x === 'number' && isFinite(x) ? Math.round(x * 100) + '%' : ''; }

  function signed(x, digits) {
    if (typeof x !== 'number' || !isFinite(x)) return '–';
    var s = Math.abs(x).toFixed(digits);
    if (Number(s) === 0) return (0).toFixed(digits);
    return (x < 0 ? '\u2212' : '+') + s;
  }

  function fmtTime(s) {
    if (typeof s !== 'number' || !isFinite(s) || s < 0) s = 0;
    var t = Math.floor(s);
    var m = Math.floor(t / 60);
    var sec = t % 60;
    return m + ':' + (sec < 10 ? '0' : '') + sec;
  }

  function fmtTimeFine(s) {
    if (typeof s !== 'number' || !isFinite(s) || s < 0) s = 0;
    var m = Math.floor(s / 60);
    var sec = s - m * 60;
    var ss = sec.toFixed(1);
    if (sec < 10) ss = '0' + ss;
    return m + ':' + ss;
  }

  function speakerName(sp) { return SPEAKER_NAMES[sp] || 'Speaker'; }

  function dutch(id) {
    var labels = S.data && S.data.labels;
    var nl = labels && labels.display_nl;
    return nl && Object.prototype.hasOwnProperty.call(nl, id) ? nl[id] : null;
  }

  function emotionClass(id) {
    return NEGATIVE[id] ? 'emo-neg' : POSITIVE[id] ? 'emo-pos' : 'emo-neu';
  }

  function emotionText(e) {
    var nl = dutch(e.id);
    return e.id + (nl && nl !== e.id ? ' · ' + nl : '') + ' ' + pct(e.confidence);
  }

  // ---------------------------------------------------------------- loading

  function start() {
    var embedded = $('subtext-call');
    if (embedded) {
      S.report = true;
      document.body.classList.add('report');
      var back = $('back');
      if (back && back.parentNode) back.parentNode.removeChild(back);
      var data;
      try {
        data = JSON.parse(embedded.textContent);
      } catch (e) {
        fail('The embedded call data could not be read: ' + e.message);
        return;
      }
      var audio = null;
      var audioEl = $('subtext-audio');
      if (audioEl) {
        try { audio = JSON.parse(audioEl.textContent); } catch (e) { audio = null; }
      }
      render(data, typeof audio === 'string' && audio ? audio : null);
      return;
    }
    var id = callIdFromPath();
    if (id === null) {
      fail('No call id in the address.');
      return;
    }
    fetch('/api/calls/' + encodeURIComponent(id), { headers: { 'Accept': 'application/json' } })
      .then(function (r) {
        if (r.status === 404) throw new Error('there is no call "' + id + '" on this server');
        // The server says why it withholds a call (e.g. made with --no-redact).
        if (!r.ok) return r.text().then(function (why) { throw new Error(why || 'the server answered ' + r.status); });
        return r.json();
      })
      .then(function (data) {
        render(data, '/audio/' + encodeURIComponent(id), id);
      })
      .catch(function (err) {
        fail('Could not load the call: ' + err.message + '.');
      });
  }

  function callIdFromPath() {
    var m = /^\/call\/(.+)$/.exec(location.pathname);
    if (!m) return null;
    var raw = m[1].replace(/\/+$/, '');
    try { return decodeURIComponent(raw); } catch (e) { return raw; }
  }

  function fail(msg) {
    $('call-title').textContent = 'Call not available';
    var meta = $('call-meta');
    clear(meta);
    meta.appendChild(el('p', 'error', msg));
    $('player-panel').hidden = true;
  }

  // ---------------------------------------------------------------- render

  function render(data, audioSrc, id) {
    if (!data || typeof data !== 'object' || !Array.isArray(data.turns)) {
      fail('The call data is not a subtext transcript.');
      return;
    }
    S.data = data;
    var call = data.call || {};
    var turnsEnd = data.turns.reduce(function (m, t) { return Math.max(m, t.end || 0); }, 0);
    S.duration = (typeof call.duration === 'number' && call.duration > 0) ? call.duration : Math.max(turnsEnd, 1);

    renderHeader(data, id);
    setupAudio(audioSrc);
    renderTranscript(data);
    renderCurve();
    setupInteraction();
    update(true);
  }

  function basename(p) {
    var s = String(p || '');
    var i = Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\'));
    return i >= 0 ? s.slice(i + 1) : s;
  }

  function chip(cls, text, title) {
    var c = el('span', 'chip ' + (cls || ''), text);
    if (title) c.title = title;
    return c;
  }

  function renderHeader(data, id) {
    var call = data.call || {};
    var title = id ? id : basename(call.source) || 'call';
    $('call-title').textContent = title;
    document.title = (S.report ? 'subtext report · ' : 'subtext · ') + title;

    var meta = $('call-meta');
    clear(meta);
    if (call.source) {
      var src = el('span', 'source', call.source);
      src.title = 'Source audio';
      meta.appendChild(src);
    }
    meta.appendChild(chip('', fmtTime(S.duration), 'Duration'));
    if (call.language) {
      meta.appendChild(chip('', call.language + (call.language_source ? ' (' + call.language_source + ')' : ''), 'Language'));
    }
    meta.appendChild(chip('', data.turns.length + (data.turns.length === 1 ? ' turn' : ' turns')));
    if (call.redacted === true) {
      meta.appendChild(chip('ok', 'redacted', 'Personal data was replaced by placeholders such as [IBAN].'));
    } else if (call.redacted === false) {
      meta.appendChild(chip('warn', 'NOT redacted', 'This transcript was not redacted: it may contain personal data.'));
    }
    if (!data.labels && !data.summary) {
      meta.appendChild(chip('subtle', 'not tagged', 'Transcribed without emotion/metaphor tags.'));
    }

    var sumEl = $('call-summary');
    clear(sumEl);
    var s = data.summary;
    if (!s) {
      sumEl.hidden = true;
    } else {
      sumEl.hidden = false;
      if (s.trajectory) {
        sumEl.appendChild(labelled('Trajectory', chip('traj traj-' + safeClass(s.trajectory), human(s.trajectory),
          "The customer's feeling over the call (hypothesis from the tags).")));
      }
      if (s.outcome) {
        var o = el('span', 'outcome-pair');
        o.appendChild(chip('outcome outcome-' + safeClass(s.outcome.functional), human(s.outcome.functional || 'unknown'),
          s.outcome.evidence && s.outcome.evidence.length ? 'Decided by: ' + s.outcome.evidence.map(function (x) { return '"' + x + '"'; }).join(', ') : 'Functional outcome'));
        if (s.outcome.emotional) {
          o.appendChild(el('span', 'sep', ' / '));
          o.appendChild(chip('emo-state emo-state-' + safeClass(s.outcome.emotional), s.outcome.emotional, "Customer's end state"));
        }
        sumEl.appendChild(labelled('Outcome', o));
      }
      if (s.follow_up) {
        var reasons = (s.follow_up.reasons || []).map(human).join(', ');
        sumEl.appendChild(labelled('Follow-up', s.follow_up.needed
          ? chip('follow-yes', '✔ needed' + (reasons ? ': ' + reasons : ''))
          : chip('subtle', 'not needed')));
      }
      if (s.contact_type) {
        sumEl.appendChild(labelled('Contact', chip('', human(s.contact_type.id) + ' ' + pct(s.contact_type.confidence))));
      }
      if (s.talk) {
        var t = s.talk;
        var parts = [];
        if (typeof t.agent_talk_ratio === 'number') parts.push('agent ' + pct(t.agent_talk_ratio));
        if (typeof t.silence_share === 'number') parts.push('silence ' + pct(t.silence_share));
        var intr = (t.interruptions_by_agent || 0) + (t.interruptions_by_customer || 0);
        if (intr) parts.push(intr + ' interruption' + (intr === 1 ? '' : 's'));
        if (parts.length) {
          sumEl.appendChild(labelled('Talk', chip('', parts.join(' · '),
            'Agent ' + (t.agent_seconds || 0).toFixed(1) + ' s, customer ' + (t.customer_seconds || 0).toFixed(1) +
            ' s, overlap ' + (t.overlap_seconds || 0).toFixed(1) + ' s; interruptions by agent ' + (t.interruptions_by_agent || 0) +
            ', by customer ' + (t.interruptions_by_customer || 0))));
        }
      }
    }

    var mom = $('call-moments');
    clear(mom);
    var moments = (s && s.moments) || [];
    if (moments.length === 0) {
      mom.hidden = true;
    } else {
      mom.hidden = false;
      mom.appendChild(el('span', 'field-label', 'Moments'));
      moments.forEach(function (m) {
        var b = el('button', 'moment moment-' + safeClass(m.kind));
        b.type = 'button';
        var sym = m.kind === 'negative_peak' ? '▼ ' : m.kind === 'recovery' ? '▲ ' : '★ ';
        b.appendChild(el('span', 'moment-kind', sym + human(m.kind)));
        b.appendChild(el('span', 'moment-time', ' ' + fmtTime(m.time)));
        if (m.quote) b.title = speakerName(m.speaker) + ': "' + m.quote + '"';
        b.addEventListener('click', function () { seek(m.time, 'moment'); });
        mom.appendChild(b);
      });
    }
  }

  function labelled(label, node) {
    var w = el('span', 'field');
    w.appendChild(el('span', 'field-label', label));
    w.appendChild(node);
    return w;
  }

  // ---------------------------------------------------------------- audio

  function setupAudio(src) {
    var player = $('player');
    var note = $('audio-note');
    if (!src) {
      S.audioOk = false;
      player.hidden = true;
      note.textContent = 'No audio linked to this report: clicking the curve or a turn moves the cursor only.';
      note.hidden = false;
      return;
    }
    S.audioOk = true;
    player.addEventListener('error', function () {
      S.audioOk = false;
      player.hidden = true;
      note.textContent = S.report
        ? 'The audio file "' + src + '" could not be loaded (it must sit at that path next to this report). Clicking the curve or a turn moves the cursor only.'
        : 'No audio on the server for this call. Clicking the curve or a turn moves the cursor only.';
      note.hidden = false;
    });
    player.src = src;
  }

  // ---------------------------------------------------------------- transcript

  // Splits a turn's text into plain runs and metaphor cues. Spans are Unicode code
  // point offsets (end exclusive), so the text is indexed as an array of code points.
  function textSegments(text, metaphors) {
    var cps = Array.from(text || '');
    var cues = [];
    (metaphors || []).forEach(function (m) {
      var s = null, e = null;
      if (Array.isArray(m.span) && m.span.length === 2) {
        s = m.span[0]; e = m.span[1];
      } else if (m.quote) {
        var q = Array.from(m.quote);
        for (var i = 0; i + q.length <= cps.length; i++) {
          var ok = true;
          for (var j = 0; j < q.length; j++) { if (cps[i + j] !== q[j]) { ok = false; break; } }
          if (ok) { s = i; e = i + q.length; break; }
        }
      }
      if (typeof s === 'number' && typeof e === 'number' && s >= 0 && e > s && e <= cps.length) {
        cues.push({ s: s, e: e, m: m });
      }
    });
    cues.sort(function (a, b) { return a.s - b.s || b.e - a.e; });
    var segs = [];
    var pos = 0;
    cues.forEach(function (c) {
      if (c.s < pos) return; // overlapping cue: keep the first
      if (c.s > pos) segs.push({ text: cps.slice(pos, c.s).join('') });
      segs.push({ text: cps.slice(c.s, c.e).join(''), cue: c.m });
      pos = c.e;
    });
    if (pos < cps.length) segs.push({ text: cps.slice(pos).join('') });
    return segs;
  }

  // Appends text to parent, turning redaction placeholders such as [IBAN] into chips.
  function appendWithPlaceholders(parent, text) {
    var last = 0;
    var m;
    PLACEHOLDER.lastIndex = 0;
    while ((m = PLACEHOLDER.exec(text)) !== null) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var c = el('span', 'redaction', m[0]);
      c.title = 'Redacted: ' + m[0].slice(1, -1).toLowerCase().replace(/_/g, ' ');
      parent.appendChild(c);
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function badge(cls, text, title) {
    var b = el('span', 'badge ' + (cls || ''), text);
    if (title) b.title = title;
    return b;
  }

  function acousticText(a) {
    var parts = [];
    if (typeof a.loudness_db === 'number') parts.push(signed(a.loudness_db, 1) + ' dB');
    if (typeof a.speech_rate === 'number') parts.push(a.speech_rate.toFixed(1) + ' w/s');
    if (typeof a.pauses === 'number' && a.pauses >= 0.05) parts.push('pauses ' + a.pauses.toFixed(1) + ' s');
    if (typeof a.overlap === 'number' && a.overlap >= 0.05) parts.push('overlap ' + a.overlap.toFixed(1) + ' s');
    if (a.interrupts) parts.push('interrupts');
    return parts.join(', ');
  }

  function acousticTitle(a) {
    var lines = ['Voice cues, relative to this speaker elsewhere in the call:'];
    if (typeof a.loudness_db === 'number') lines.push('loudness ' + signed(a.loudness_db, 1) + ' dB');
    if (typeof a.pitch_hz === 'number') lines.push('pitch ' + Math.round(a.pitch_hz) + ' Hz');
    if (typeof a.pitch_range_st === 'number') lines.push('pitch range ' + a.pitch_range_st.toFixed(1) + ' semitones');
    if (typeof a.speech_rate === 'number') lines.push('speech rate ' + a.speech_rate.toFixed(1) + ' words/s');
    if (typeof a.pauses === 'number') lines.push('pauses ' + Math.max(0, a.pauses).toFixed(1) + ' s');
    if (typeof a.overlap === 'number') lines.push('overlap ' + a.overlap.toFixed(1) + ' s');
    lines.push(a.interrupts ? 'started while the other speaker was talking' : 'no interruption');
    return lines.join('\n');
  }

  function renderTurn(turn) {
    var sp = safeClass(turn.speaker || 'unknown');
    var div = el('div', 'turn speaker-' + sp);
    div.setAttribute('data-id', String(turn.id));
    div.setAttribute('data-start', String(turn.start));
    div.setAttribute('data-end', String(turn.end));
    div.tabIndex = 0;

    var side = el('div', 'turn-side');
    var time = el('span', 'turn-time', fmtTime(turn.start));
    time.title = fmtTimeFine(turn.start) + ' – ' + fmtTimeFine(turn.end);
    side.appendChild(time);
    side.appendChild(el('span', 'speaker', speakerName(turn.speaker)));
    div.appendChild(side);

    var body = el('div', 'turn-body');
    var p = el('p', 'text');
    var tags = turn.tags;
    textSegments(turn.text, tags && tags.metaphors).forEach(function (seg) {
      if (seg.cue) {
        var mk = el('mark', 'cue cue-' + safeClass(seg.cue['class']));
        mk.title = seg.cue['class'] + ' ' + pct(seg.cue.confidence) + ' (metaphor cue, ' + (seg.cue.source || 'lexicon') + ')';
        appendWithPlaceholders(mk, seg.text);
        p.appendChild(mk);
      } else {
        appendWithPlaceholders(p, seg.text);
      }
    });
    body.appendChild(p);

    var row = el('div', 'tags');
    if (tags) {
      (tags.emotions || []).slice(0, 3).forEach(function (e) {
        row.appendChild(badge('emo ' + emotionClass(e.id), emotionText(e), 'Emotion hypothesis: ' + e.id +
          (dutch(e.id) ? ' (' + dutch(e.id) + ')' : '') + ', confidence ' + pct(e.confidence)));
      });
      (tags.metaphors || []).forEach(function (m) {
        row.appendChild(badge('metaphor cue-' + safeClass(m['class']), m['class'] + ' ' + pct(m.confidence),
          'Metaphor cue (' + (m.source || 'lexicon') + ')' + (m.quote ? ': "' + m.quote + '"' : ': seen in the turn as a whole') +
          ', confidence ' + pct(m.confidence)));
      });
      if (tags.need) {
        row.appendChild(badge('need', 'need: ' + human(tags.need.id) + ' ' + pct(tags.need.confidence),
          'Possible need behind the words, confidence ' + pct(tags.need.confidence)));
      }
      if (tags.contact_type) {
        row.appendChild(badge('contact', human(tags.contact_type.id) + ' ' + pct(tags.contact_type.confidence),
          'Contact type hypothesis, confidence ' + pct(tags.contact_type.confidence)));
      }
      if (typeof tags.valence === 'number') {
        row.appendChild(badge('vi', 'val ' + signed(tags.valence, 2) + ' · int ' + (typeof tags.intensity === 'number' ? tags.intensity.toFixed(2) : '–'),
          'Valence (−1 negative … +1 positive) and intensity (0 flat … 1 strong)'));
      }
    }
    if (turn.acoustic) {
      var at = acousticText(turn.acoustic);
      if (at) row.appendChild(badge('acoustic' + (turn.acoustic.interrupts ? ' interrupts' : ''), at, acousticTitle(turn.acoustic)));
    }
    if (row.childNodes.length) body.appendChild(row);
    div.appendChild(body);
    return div;
  }

  function renderHint(h) {
    var div = el('div', 'hint');
    div.setAttribute('data-time', String(h.time));
    div.setAttribute('role', 'note');
    div.tabIndex = 0;
    var head = el('div', 'hint-head');
    head.appendChild(el('span', 'hint-label', 'Hint'));
    head.appendChild(el('span', 'hint-time', fmtTime(h.time)));
    if (h.need) head.appendChild(el('span', 'hint-need', 'need: ' + human(h.need)));
    var conf = el('span', 'hint-conf', pct(h.confidence));
    conf.title = 'Confidence: the lowest among the tags this hint rests on';
    head.appendChild(conf);
    div.appendChild(head);
    div.appendChild(el('p', 'hint-text', h.text || ''));
    if (h.question) {
      var q = el('p', 'hint-question');
      q.appendChild(el('span', 'hint-q-label', 'Ask: '));
      q.appendChild(document.createTextNode(h.question));
      div.appendChild(q);
    }
    var ev = h.evidence;
    if (ev) {
      var e = el('p', 'hint-evidence');
      e.appendChild(el('span', 'hint-q-label', 'Evidence: '));
      if (ev.quote) {
        var qq = el('q', 'hint-quote');
        appendWithPlaceholders(qq, ev.quote);
        e.appendChild(qq);
      }
      var bits = [];
      if (ev.quote_source) bits.push('from ' + ev.quote_source);
      if (ev.metaphor) bits.push('metaphor ' + ev.metaphor['class'] + ' ' + pct(ev.metaphor.confidence));
      (ev.emotions || []).forEach(function (x) { bits.push(x.id + ' ' + pct(x.confidence)); });
      if (ev.need) bits.push('need ' + human(ev.need.id) + ' ' + pct(ev.need.confidence));
      if (ev.signals && ev.signals.length) bits.push('signals: ' + ev.signals.map(human).join(', '));
      if (ev.context && ev.context.length) bits.push('context: ' + ev.context.map(human).join(', '));
      if (bits.length) e.appendChild(el('span', 'hint-bits', ' (' + bits.join('; ') + ')'));
      div.appendChild(e);
    }
    div.addEventListener('click', function () { seek(h.time, 'hint'); });
    div.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && e.target === div) { e.preventDefault(); seek(h.time, 'hint'); }
    });
    return div;
  }

  function renderTranscript(data) {
    var box = $('transcript');
    clear(box);
    S.turns = [];
    var hintsByTurn = {};
    (data.hints || []).forEach(function (h) {
      (hintsByTurn[h.turn] = hintsByTurn[h.turn] || []).push(h);
    });
    var turns = data.turns.slice().sort(function (a, b) { return a.start - b.start; });
    if (turns.length === 0) {
      box.appendChild(el('p', 'note', 'No speech was found in this call.'));
    }
    turns.forEach(function (turn) {
      var div = renderTurn(turn);
      box.appendChild(div);
      S.turns.push({ turn: turn, el: div });
      div.addEventListener('click', function (e) {
        var sel = window.getSelection && window.getSelection();
        if (sel && !sel.isCollapsed && div.contains(sel.anchorNode)) return; // selecting text
        seek(turn.start, 'turn');
      });
      div.addEventListener('keydown', function (e) {
        if ((e.key === 'Enter' || e.key === ' ') && e.target === div) {
          e.preventDefault();
          seek(turn.start, 'turn');
        }
      });
      (hintsByTurn[turn.id] || []).forEach(function (h) {
        box.appendChild(renderHint(h));
      });
      delete hintsByTurn[turn.id];
    });
    // Hints whose turn is not in the transcript still get shown, at the end.
    Object.keys(hintsByTurn).forEach(function (k) {
      hintsByTurn[k].forEach(function (h) { box.appendChild(renderHint(h)); });
    });
  }

  // ---------------------------------------------------------------- curve

  function curves() {
    var s = S.data && S.data.summary;
    return (s && Array.isArray(s.curves)) ? s.curves.filter(function (c) { return c && (c.points || c.valence); }) : [];
  }

  function niceStep(duration, width) {
    var target = Math.max(3, Math.min(12, Math.floor(width / 80)));
    var steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600];
    for (var i = 0; i < steps.length; i++) {
      if (duration / steps[i] <= target) return steps[i];
    }
    return 7200;
  }

  function renderCurve() {
    var svg = $('curve');
    var legend = $('curve-legend');
    var note = $('curve-note');
    var list = curves();
    clear(svg);
    clear(legend);
    if (list.length === 0) {
      svg.style.display = 'none';
      legend.hidden = true;
      note.textContent = 'no emotion curve (call not tagged)';
      note.hidden = false;
      S.curve = null;
      return;
    }
    svg.style.display = '';
    legend.hidden = false;
    note.hidden = true;

    var w = Math.max(200, Math.round(svg.getBoundingClientRect().width || svg.parentNode.clientWidth || 800));
    var h = CURVE_H;
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('width', '100%');
    svg.setAttribute('height', String(h));
    var x0 = PAD.l, x1 = w - PAD.r, y0 = PAD.t, y1 = h - PAD.b;
    var dur = S.duration;
    function X(t) { return x0 + (Math.max(0, Math.min(dur, t)) / dur) * (x1 - x0); }
    function Y(v) { return y0 + (1 - (Math.max(-1, Math.min(1, v)) + 1) / 2) * (y1 - y0); }
    S.curve = { w: w, h: h, x0: x0, x1: x1, y0: y0, y1: y1 };

    // Background: plot area, positive and negative halves, grid.
    svgEl('rect', { 'class': 'plot-area', x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, svg);
    svgEl('rect', { 'class': 'band-pos', x: x0, y: y0, width: x1 - x0, height: Y(0) - y0 }, svg);
    svgEl('rect', { 'class': 'band-neg', x: x0, y: Y(0), width: x1 - x0, height: y1 - Y(0) }, svg);
    [0.5, -0.5].forEach(function (v) {
      svgEl('line', { 'class': 'grid', x1: x0, x2: x1, y1: Y(v), y2: Y(v) }, svg);
    });
    var step = niceStep(dur, x1 - x0);
    for (var t = 0; t <= dur + 1e-6; t += step) {
      svgEl('line', { 'class': 'grid grid-x', x1: X(t), x2: X(t), y1: y0, y2: y1 }, svg);
      var lab = svgEl('text', { 'class': 'axis-label', x: X(t), y: y1 + 13, 'text-anchor': t === 0 ? 'start' : 'middle' }, svg);
      lab.textContent = fmtTime(t);
    }
    svgEl('line', { 'class': 'zero-line', x1: x0, x2: x1, y1: Y(0), y2: Y(0) }, svg);
    [[1, '+1'], [0, '0'], [-1, '\u22121']].forEach(function (p) {
      var tx = svgEl('text', { 'class': 'axis-label', x: x0 - 6, y: Y(p[0]) + 4, 'text-anchor': 'end' }, svg);
      tx.textContent = p[1];
    });
    var yl = svgEl('text', { 'class': 'axis-title', x: 11, y: (y0 + y1) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 11 ' + ((y0 + y1) / 2) + ')' }, svg);
    yl.textContent = 'valence';

    // Hint markers: a faint line through the plot, a clickable marker under the axis.
    var hints = (S.data.hints || []);
    hints.forEach(function (hnt) {
      if (typeof hnt.time !== 'number') return;
      svgEl('line', { 'class': 'hint-line', x1: X(hnt.time), x2: X(hnt.time), y1: y0, y2: y1 }, svg);
    });

    var turnsById = {};
    S.data.turns.forEach(function (t) { turnsById[t.id] = t; });

    // Speaker curves: agent first so the customer's is drawn on top.
    var order = { agent: 0, unknown: 1, customer: 2 };
    var sorted = list.slice().sort(function (a, b) { return (order[a.speaker] || 0) - (order[b.speaker] || 0); });
    sorted.forEach(function (c) {
      var sp = safeClass(c.speaker || 'unknown');
      var d = '';
      var vals = Array.isArray(c.valence) ? c.valence : [];
      var stp = typeof c.step === 'number' && c.step > 0 ? c.step : 1;
      if (vals.length >= 2) {
        for (var i = 0; i < vals.length; i++) {
          var tt = i * stp;
          if (tt > dur + stp) break;
          d += (i === 0 ? 'M' : 'L') + X(tt).toFixed(1) + ' ' + Y(vals[i]).toFixed(1);
        }
      } else {
        (c.points || []).forEach(function (p, i) {
          d += (i === 0 ? 'M' : 'L') + X(p.time).toFixed(1) + ' ' + Y(p.smooth_valence != null ? p.smooth_valence : p.valence).toFixed(1);
        });
      }
      if (d) svgEl('path', { 'class': 'curve-' + sp, d: d }, svg);
    });
    var pointsG = svgEl('g', { 'class': 'points' }, svg);
    sorted.forEach(function (c) {
      var sp = safeClass(c.speaker || 'unknown');
      (c.points || []).forEach(function (p) {
        var inten = typeof p.intensity === 'number' ? p.intensity : 0.4;
        var r = 2.5 + 6 * Math.max(0, Math.min(1, inten));
        var circ = svgEl('circle', {
          'class': 'point point-' + sp, cx: X(p.time).toFixed(1), cy: Y(p.valence).toFixed(1), r: r.toFixed(1),
          'data-time': p.time, 'data-turn': p.turn,
        }, pointsG);
        var turn = turnsById[p.turn];
        var emos = turn && turn.tags && turn.tags.emotions ? turn.tags.emotions.map(emotionText).join(', ') : '';
        var title = svgEl('title', null, circ);
        title.textContent = speakerName(c.speaker) + ' · ' + fmtTime(p.time) + (emos ? ' · ' + emos : '') +
          '\nvalence ' + signed(p.valence, 2) + ' · intensity ' + (typeof p.intensity === 'number' ? p.intensity.toFixed(2) : '–') +
          (turn && turn.text ? '\n"' + (turn.text.length > 120 ? Array.from(turn.text).slice(0, 117).join('') + '…' : turn.text) + '"' : '');
      });
    });

    hints.forEach(function (hnt) {
      if (typeof hnt.time !== 'number') return;
      var cx = X(hnt.time), cy = y1 + 24;
      var g = svgEl('g', { 'class': 'hint-marker', 'data-time': hnt.time }, svg);
      svgEl('path', { d: 'M' + cx + ' ' + (cy - 6) + 'L' + (cx + 6) + ' ' + cy + 'L' + cx + ' ' + (cy + 6) + 'L' + (cx - 6) + ' ' + cy + 'Z' }, g);
      var ti = svgEl('title', null, g);
      ti.textContent = 'Hint at ' + fmtTime(hnt.time) + ' (' + pct(hnt.confidence) + '): ' + (hnt.text || '');
    });

    S.curve.hover = svgEl('line', { id: 'curve-hover', x1: x0, x2: x0, y1: y0, y2: y1, visibility: 'hidden' }, svg);
    S.curve.cursor = svgEl('line', { id: 'cursor', x1: X(S.t), x2: X(S.t), y1: y0 - 4, y2: y1 + 4 }, svg);
    S.curve.X = X;

    // Legend.
    var seen = {};
    sorted.slice().reverse().forEach(function (c) {
      var sp = safeClass(c.speaker || 'unknown');
      if (seen[sp]) return;
      seen[sp] = true;
      var item = el('span', 'legend-item');
      item.appendChild(el('span', 'swatch swatch-' + sp));
      item.appendChild(document.createTextNode(speakerName(c.speaker) + (c.trajectory ? ' (' + human(c.trajectory) + ')' : '')));
      legend.appendChild(item);
    });
    var pt = el('span', 'legend-item');
    pt.appendChild(el('span', 'swatch swatch-point'));
    pt.appendChild(document.createTextNode('turn (size = intensity)'));
    legend.appendChild(pt);
    if (hints.length) {
      var hi = el('span', 'legend-item');
      hi.appendChild(el('span', 'swatch swatch-hint'));
      hi.appendChild(document.createTextNode('hint'));
      legend.appendChild(hi);
    }
    var cu = el('span', 'legend-item');
    cu.appendChild(el('span', 'swatch swatch-cursor'));
    cu.appendChild(document.createTextNode('playback'));
    legend.appendChild(cu);
    legend.appendChild(el('span', 'legend-note', 'Line: smoothed valence; dots: each turn. Tags are hypotheses.'));
  }

  function curveTimeAt(clientX) {
    var c = S.curve;
    if (!c) return null;
    var rect = $('curve').getBoundingClientRect();
    if (!rect.width) return null;
    var x = (clientX - rect.left) * (c.w / rect.width);
    var f = (x - c.x0) / (c.x1 - c.x0);
    return Math.max(0, Math.min(1, f)) * S.duration;
  }

  // ---------------------------------------------------------------- playback state

  function seek(t, origin) {
    if (typeof t !== 'number' || !isFinite(t)) return;
    t = Math.max(0, Math.min(S.duration, t));
    S.t = t;
    var player = $('player');
    if (S.audioOk) {
      try { player.currentTime = t; } catch (e) { /* not seekable yet */ }
    }
    update(origin !== 'turn' && origin !== 'test-noscroll', origin === 'turn');
  }

  function currentIndex(t) {
    // The turn whose start <= t < next turn's start (a little slack for float seeks).
    var idx = -1;
    for (var i = 0; i < S.turns.length; i++) {
      if (S.turns[i].turn.start <= t + 0.05) idx = i;
      else break;
    }
    return idx;
  }

  function update(allowScroll, force) {
    var c = S.curve;
    if (c && c.cursor) {
      var x = c.X(S.t).toFixed(1);
      c.cursor.setAttribute('x1', x);
      c.cursor.setAttribute('x2', x);
    }
    var idx = currentIndex(S.t);
    if (idx !== S.currentIdx || force) {
      if (S.currentIdx >= 0 && S.turns[S.currentIdx]) {
        S.turns[S.currentIdx].el.classList.remove('current');
        S.turns[S.currentIdx].el.removeAttribute('aria-current');
      }
      var changed = idx !== S.currentIdx;
      S.currentIdx = idx;
      var pts = document.querySelectorAll('#curve circle.point');
      var curId = idx >= 0 ? String(S.turns[idx].turn.id) : null;
      for (var i = 0; i < pts.length; i++) {
        pts[i].classList.toggle('active', curId !== null && pts[i].getAttribute('data-turn') === curId);
      }
      if (idx >= 0) {
        var node = S.turns[idx].el;
        node.classList.add('current');
        node.setAttribute('aria-current', 'true');
        if (changed && allowScroll) scrollToTurn(node);
      }
    }
  }

  function stickyBottom() {
    var panel = $('player-panel');
    if (!panel || panel.hidden) return 0;
    var pos = getComputedStyle(panel).position;
    if (pos !== 'sticky' && pos !== 'fixed') return 0;
    var r = panel.getBoundingClientRect();
    return Math.max(0, r.bottom);
  }

  function scrollToTurn(node) {
    if (Date.now() - S.userScrollAt < 3000) return;
    var top = stickyBottom();
    var r = node.getBoundingClientRect();
    var visibleH = window.innerHeight - top;
    if (r.top >= top + 8 && r.bottom <= window.innerHeight - 8) return; // already in view
    var target = window.scrollY + r.top - top - Math.max(16, (visibleH - r.height) / 3);
    var reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    window.scrollTo({ top: Math.max(0, target), behavior: reduce ? 'auto' : 'smooth' });
  }

  function tick() {
    var player = $('player');
    S.t = player.currentTime;
    update(true);
    if (!player.paused && !player.ended) S.raf = requestAnimationFrame(tick);
    else S.raf = 0;
  }

  function setupInteraction() {
    var player = $('player');
    player.addEventListener('timeupdate', function () {
      if (!S.audioOk) return;
      S.t = player.currentTime;
      update(true);
    });
    player.addEventListener('seeked', function () {
      if (!S.audioOk) return;
      S.t = player.currentTime;
      update(true);
    });
    player.addEventListener('play', function () {
      if (!S.raf) S.raf = requestAnimationFrame(tick);
    });
    player.addEventListener('loadedmetadata', function () {
      // Keep a position chosen before the audio was ready.
      if (S.t > 0 && Math.abs(player.currentTime - S.t) > 0.05) {
        try { player.currentTime = S.t; } catch (e) { /* ignore */ }
      }
    });

    var markUserScroll = function () { S.userScrollAt = Date.now(); };
    window.addEventListener('wheel', markUserScroll, { passive: true });
    window.addEventListener('touchmove', markUserScroll, { passive: true });
    window.addEventListener('keydown', function (e) {
      if (/^(PageUp|PageDown|Home|End|ArrowUp|ArrowDown)$/.test(e.key) &&
        !(e.target && (e.target.tagName === 'AUDIO' || e.target.tagName === 'INPUT'))) markUserScroll();
    });

    var svg = $('curve');
    // A mouse click seeks; it should not leave a focus ring (keyboard focus still works).
    svg.addEventListener('mousedown', function (e) { e.preventDefault(); });
    svg.addEventListener('click', function (e) {
      var target = e.target;
      var marker = target.closest ? target.closest('.hint-marker') : null;
      if (marker) {
        var ht = parseFloat(marker.getAttribute('data-time'));
        seek(ht, 'curve');
        var hintEl = null;
        var all = document.querySelectorAll('#transcript .hint');
        for (var k = 0; k < all.length; k++) {
          if (all[k].getAttribute('data-time') === marker.getAttribute('data-time')) { hintEl = all[k]; break; }
        }
        if (hintEl) {
          if (Date.now() - S.userScrollAt >= 3000) scrollToTurn(hintEl);
          hintEl.classList.add('flash');
          setTimeout(function () { hintEl.classList.remove('flash'); }, 1600);
        }
        return;
      }
      if (target.classList && target.classList.contains('point')) {
        seek(parseFloat(target.getAttribute('data-time')), 'curve');
        return;
      }
      var t = curveTimeAt(e.clientX);
      if (t !== null) seek(t, 'curve');
    });
    svg.addEventListener('mousemove', function (e) {
      var c = S.curve;
      if (!c || !c.hover) return;
      var t = curveTimeAt(e.clientX);
      if (t === null) return;
      var x = c.X(t).toFixed(1);
      c.hover.setAttribute('x1', x);
      c.hover.setAttribute('x2', x);
      c.hover.setAttribute('visibility', 'visible');
    });
    svg.addEventListener('mouseleave', function () {
      if (S.curve && S.curve.hover) S.curve.hover.setAttribute('visibility', 'hidden');
    });
    svg.addEventListener('keydown', function (e) {
      if (e.key === 'ArrowRight') { e.preventDefault(); seek(S.t + 5, 'curve'); }
      else if (e.key === 'ArrowLeft') { e.preventDefault(); seek(S.t - 5, 'curve'); }
      else if (e.key === 'Home') { e.preventDefault(); seek(0, 'curve'); }
      else if (e.key === 'End') { e.preventDefault(); seek(S.duration, 'curve'); }
    });

    var lastW = 0;
    var redraw = function () {
      if (!curves().length) return;
      var w = Math.round($('curve').getBoundingClientRect().width);
      if (w && w !== lastW) {
        lastW = w;
        renderCurve();
        update(false, true);
      }
    };
    if (typeof ResizeObserver === 'function') {
      var pending = 0;
      new ResizeObserver(function () {
        if (pending) cancelAnimationFrame(pending);
        pending = requestAnimationFrame(function () { pending = 0; redraw(); });
      }).observe($('curve-box'));
    } else {
      window.addEventListener('resize', redraw);
    }
  }

  window.subtextSeek = function (t) { seek(Number(t), 'test'); };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
