// subtext serve: the call list. Vanilla JS, no dependencies.
// All data goes into the DOM through textContent / attributes, never as HTML.
(function () {
  'use strict';

  var state = {
    calls: [],
    sortKey: 'modified',
    sortDir: -1, // -1 = descending, 1 = ascending
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function human(id) {
    return id == null ? '' : String(id).replace(/_/g, ' ');
  }

  function fmtDuration(s) {
    if (typeof s !== 'number' || !isFinite(s)) return '–';
    var t = Math.round(s);
    var m = Math.floor(t / 60);
    var sec = t % 60;
    return m + ':' + (sec < 10 ? '0' : '') + sec;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function fmtModified(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function metaphorCount(c) {
    var n = 0;
    (c.top_metaphors || []).forEach(function (m) { n += m.count || 0; });
    return n;
  }

  // Sort value per column; null sorts last in both directions.
  function sortValue(c, key) {
    switch (key) {
      case 'file': return (c.file || c.id || '').toLowerCase();
      case 'modified': return c.modified || null;
      case 'duration': return typeof c.duration === 'number' ? c.duration : null;
      case 'language': return c.language || null;
      case 'trajectory': return c.trajectory || null;
      case 'end': return c.outcome ? (c.outcome.functional || '') + '/' + (c.outcome.emotional || '') : null;
      case 'follow_up': return c.follow_up === true ? 1 : c.follow_up === false ? 0 : null;
      case 'metaphors': return metaphorCount(c);
      case 'hints': return typeof c.hints === 'number' ? c.hints : null;
    }
    return null;
  }

  function compare(a, b) {
    var va = sortValue(a, state.sortKey);
    var vb = sortValue(b, state.sortKey);
    if (va === null && vb === null) return tiebreak(a, b);
    if (va === null) return 1;
    if (vb === null) return -1;
    var r;
    if (typeof va === 'number' && typeof vb === 'number') r = va - vb;
    else r = String(va).localeCompare(String(vb));
    return r !== 0 ? r * state.sortDir : tiebreak(a, b);
  }

  function tiebreak(a, b) {
    return String(a.id).localeCompare(String(b.id));
  }

  function haystack(c) {
    var parts = [c.id, c.file, c.source, c.trajectory];
    (c.top_metaphors || []).forEach(function (m) { parts.push(m['class']); });
    return parts.filter(function (p) { return p; }).join('\n').toLowerCase();
  }

  function matches(c) {
    var q = $('filter').value.trim().toLowerCase();
    if (q) {
      var hay = haystack(c);
      var words = q.split(/\s+/);
      for (var i = 0; i < words.length; i++) {
        if (hay.indexOf(words[i]) < 0) return false;
      }
    }
    var lang = $('filter-language').value;
    if (lang && c.language !== lang) return false;
    var traj = $('filter-trajectory').value;
    if (traj) {
      if (traj === '(none)') { if (c.trajectory) return false; }
      else if (c.trajectory !== traj) return false;
    }
    var fu = $('filter-follow-up').value;
    if (fu === 'yes' && c.follow_up !== true) return false;
    if (fu === 'no' && c.follow_up !== false) return false;
    if (fu === 'unknown' && (c.follow_up === true || c.follow_up === false)) return false;
    return true;
  }

  function trajectoryBadge(t) {
    if (!t) return el('span', 'muted', '–');
    return el('span', 'badge traj traj-' + String(t).replace(/[^a-z_-]/gi, ''), human(t));
  }

  function buildRow(c) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-id', c.id);

    var td = el('td', 'col-file');
    var a = el('a', 'call-link', c.file || c.id);
    a.href = '/call/' + encodeURIComponent(c.id);
    td.appendChild(a);
    if (c.redacted === false) {
      var w = el('span', 'badge warn', 'NOT redacted');
      w.title = 'This transcript was not redacted: it may contain personal data.';
      td.appendChild(document.createTextNode(' '));
      td.appendChild(w);
    }
    if (c.has_audio === false) {
      var na = el('span', 'badge subtle', 'no audio');
      na.title = 'The server has no audio for this call.';
      td.appendChild(document.createTextNode(' '));
      td.appendChild(na);
    }
    if (c.source) {
      var src = el('div', 'source', c.source);
      src.title = c.source;
      td.appendChild(src);
    }
    tr.appendChild(td);

    td = el('td', 'col-modified nowrap', fmtModified(c.modified));
    if (c.modified) td.title = c.modified;
    tr.appendChild(td);

    tr.appendChild(el('td', 'col-duration num', fmtDuration(c.duration)));
    tr.appendChild(el('td', 'col-language', c.language || '–'));

    td = el('td', 'col-trajectory');
    td.appendChild(trajectoryBadge(c.trajectory));
    tr.appendChild(td);

    td = el('td', 'col-end');
    if (c.outcome) {
      td.appendChild(el('span', 'outcome outcome-' + String(c.outcome.functional || 'unknown').replace(/[^a-z_-]/gi, ''), human(c.outcome.functional || 'unknown')));
      td.appendChild(el('span', 'sep', ' / '));
      td.appendChild(el('span', 'emo-state emo-state-' + String(c.outcome.emotional || 'none').replace(/[^a-z_-]/gi, ''), human(c.outcome.emotional || '–')));
      if (c.customer_emotion) td.title = 'Customer ended on: ' + c.customer_emotion + ' (hypothesis)';
    } else {
      td.appendChild(el('span', 'muted', '–'));
    }
    tr.appendChild(td);

    td = el('td', 'col-follow-up center');
    if (c.follow_up === true) {
      var f = el('span', 'follow-up yes', '✔');
      var reasons = (c.follow_up_reasons || []).map(human).join(', ');
      f.title = 'Follow-up needed' + (reasons ? ': ' + reasons : '');
      f.setAttribute('aria-label', f.title);
      td.appendChild(f);
    } else if (c.follow_up === false) {
      td.appendChild(el('span', 'muted', 'no'));
    } else {
      td.appendChild(el('span', 'muted', '–'));
    }
    tr.appendChild(td);

    td = el('td', 'col-metaphors');
    var mets = c.top_metaphors || [];
    if (mets.length === 0) td.appendChild(el('span', 'muted', '–'));
    mets.forEach(function (m) {
      var chip = el('span', 'chip cue-chip cue-' + String(m['class']).replace(/[^a-z_-]/gi, ''), m['class'] + (m.count > 1 ? ' ×' + m.count : ''));
      td.appendChild(chip);
      td.appendChild(document.createTextNode(' '));
    });
    tr.appendChild(td);

    td = el('td', 'col-hints num', typeof c.hints === 'number' ? c.hints : '–');
    tr.appendChild(td);
    return tr;
  }

  function render() {
    var tbody = document.querySelector('#calls tbody');
    var sorted = state.calls.slice().sort(compare);
    var shown = 0;
    var rows = sorted.map(function (c) {
      var tr = c._row || (c._row = buildRow(c));
      var ok = matches(c);
      tr.hidden = !ok;
      if (ok) shown++;
      return tr;
    });
    // Re-append in sorted order (moves existing nodes).
    rows.forEach(function (tr) { tbody.appendChild(tr); });

    var total = state.calls.length;
    $('count').textContent = shown + ' of ' + total + ' calls';
    var status = $('status');
    if (total === 0) {
      status.textContent = 'No tagged calls here yet: the served folder holds no *.subtext.json files.';
      status.hidden = false;
    } else if (shown === 0) {
      status.textContent = 'No calls match the filter.';
      status.hidden = false;
    } else {
      status.hidden = true;
    }

    var ths = document.querySelectorAll('#calls thead th');
    for (var i = 0; i < ths.length; i++) {
      var th = ths[i];
      if (th.getAttribute('data-key') === state.sortKey) {
        th.setAttribute('aria-sort', state.sortDir > 0 ? 'ascending' : 'descending');
        th.classList.add('sorted');
      } else {
        th.removeAttribute('aria-sort');
        th.classList.remove('sorted');
      }
    }
  }

  function fillSelect(sel, values, labelFor) {
    values.forEach(function (v) {
      var o = el('option', null, labelFor ? labelFor(v) : v);
      o.value = v;
      sel.appendChild(o);
    });
  }

  function uniq(list) {
    var seen = {};
    var out = [];
    list.forEach(function (v) {
      if (!Object.prototype.hasOwnProperty.call(seen, v)) { seen[v] = true; out.push(v); }
    });
    return out.sort();
  }

  // Tagged files the server could not read, each with its reason.
  function renderUnreadable(files) {
    var box = $('unreadable');
    box.textContent = '';
    box.hidden = files.length === 0;
    if (!files.length) return;
    box.appendChild(el('p', null, files.length + ' tagged file(s) could not be read:'));
    var list = el('ul');
    files.forEach(function (f) { list.appendChild(el('li', null, f.file + ': ' + f.reason)); });
    box.appendChild(list);
  }

  function renderGroups(groups) {
    var box = $('groups');
    while (box.firstChild) box.removeChild(box.firstChild);
    if (!groups || typeof groups !== 'object') { box.hidden = true; return; }
    var any = false;
    var wrap = el('div', 'group-grid');
    Object.keys(groups).forEach(function (k) {
      var arr = groups[k];
      if (!Array.isArray(arr) || arr.length === 0) return;
      any = true;
      var card = el('div', 'group-card');
      card.appendChild(el('h3', null, human(k).replace(/^by /, 'By ')));
      var ul = el('ul');
      arr.forEach(function (g) {
        var li = el('li');
        li.appendChild(el('span', 'group-key', g.key == null ? '(none)' : human(g.key)));
        li.appendChild(el('span', 'group-n', String(g.calls) + (g.calls === 1 ? ' call' : ' calls')));
        ul.appendChild(li);
      });
      card.appendChild(ul);
      wrap.appendChild(card);
    });
    if (!any) { box.hidden = true; return; }
    box.appendChild(el('h2', null, 'Groups'));
    box.appendChild(wrap);
    var min = typeof groups.min_size === 'number' ? groups.min_size : null;
    box.appendChild(el('p', 'note', min !== null
      ? 'Groups under ' + min + ' calls are not shown.'
      : 'Small groups are not shown.'));
    box.hidden = false;
  }

  function init() {
    var ths = document.querySelectorAll('#calls thead th');
    for (var i = 0; i < ths.length; i++) {
      (function (th) {
        var btn = th.querySelector('button');
        (btn || th).addEventListener('click', function () {
          var key = th.getAttribute('data-key');
          if (state.sortKey === key) state.sortDir = -state.sortDir;
          else {
            state.sortKey = key;
            state.sortDir = (key === 'modified' || key === 'hints' || key === 'follow_up' || key === 'metaphors') ? -1 : 1;
          }
          render();
        });
      })(ths[i]);
    }
    ['filter', 'filter-language', 'filter-trajectory', 'filter-follow-up'].forEach(function (id) {
      $(id).addEventListener(id === 'filter' ? 'input' : 'change', render);
    });
    $('filter').addEventListener('keydown', function (e) {
      if (e.key === 'Escape') { $('filter').value = ''; render(); }
    });

    fetch('/api/calls', { headers: { 'Accept': 'application/json' } })
      .then(function (r) {
        if (!r.ok) throw new Error('the server answered ' + r.status);
        return r.json();
      })
      .then(function (data) {
        state.calls = (data && Array.isArray(data.calls)) ? data.calls : [];
        fillSelect($('filter-language'), uniq(state.calls.map(function (c) { return c.language; }).filter(Boolean)));
        var trajs = uniq(state.calls.map(function (c) { return c.trajectory; }).filter(Boolean));
        fillSelect($('filter-trajectory'), trajs, human);
        if (state.calls.some(function (c) { return !c.trajectory; })) {
          fillSelect($('filter-trajectory'), ['(none)'], function () { return 'none (not tagged)'; });
        }
        render();
        renderGroups(data ? data.groups : null);
        renderUnreadable(data && Array.isArray(data.unreadable) ? data.unreadable : []);
      })
      .catch(function (err) {
        $('status').textContent = 'Could not load the call list: ' + err.message;
        $('status').classList.add('error');
        $('status').hidden = false;
        $('count').textContent = '';
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
