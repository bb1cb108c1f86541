// The portal's chat with the smart first line. Texts are set with
// textContent only: what a customer or an article says is never HTML.
(function () {
  'use strict';
  var box = document.getElementById('chat');
  var log = document.getElementById('chat-log');
  var form = document.getElementById('chat-form');
  var input = document.getElementById('chat-text');
  var opener = document.getElementById('chat-open');
  var key = 'kefu-chat';
  var id = sessionStorage.getItem(key);

  function line(cls, text, articles) {
    var li = document.createElement('li');
    li.className = cls;
    li.textContent = text;
    if (articles && articles.length) {
      var ul = document.createElement('ul');
      articles.forEach(function (a) {
        var item = document.createElement('li');
        var link = document.createElement('a');
        link.href = '/portal/kb/' + encodeURIComponent(a.code);
        link.textContent = a.title;
        item.appendChild(link);
        ul.appendChild(item);
      });
      li.appendChild(ul);
    }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }

  function api(method, path, body) {
    return fetch(path, {
      method: method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; });
    });
  }

  function problem(r) {
    var e = r.body && r.body.error;
    line('bot', (e && (e.message_zh || e.message)) || '网络异常，请稍后再试。');
  }

  function start() {
    return api('POST', '/api/v1/bot/sessions', { channel: 'web' }).then(function (r) {
      if (!r.ok) { problem(r); return; }
      id = r.body.id;
      sessionStorage.setItem(key, id);
      line('bot', r.body.reply);
    });
  }

  function restore() {
    return api('GET', '/api/v1/bot/sessions/' + id).then(function (r) {
      if (!r.ok) { sessionStorage.removeItem(key); id = null; return start(); }
      r.body.turns.forEach(function (t) {
        line(t.by === 'customer' ? 'me' : 'bot', t.text, t.articles);
      });
    });
  }

  function open() {
    box.hidden = false;
    opener.hidden = true;
    if (!log.children.length) { (id ? restore() : start()); }
    input.focus();
  }

  opener.addEventListener('click', open);
  document.getElementById('chat-close').addEventListener('click', function () {
    box.hidden = true;
    opener.hidden = false;
  });
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || !id) { return; }
    input.value = '';
    line('me', text);
    api('POST', '/api/v1/bot/sessions/' + id + '/messages', { text: text }).then(function (r) {
      var ended = r.status === 404 || (r.status === 422 && r.body.error && r.body.error.field === 'id');
      if (ended) { problem(r); sessionStorage.removeItem(key); id = null; start(); return; }
      if (!r.ok) { problem(r); return; }
      var li = line(r.body.handoff ? 'bot handoff' : 'bot', r.body.reply, r.body.articles);
      if (r.body.ticket) { li.dataset.ticket = r.body.ticket.number; }
    }, function () { line('bot', '网络异常，请稍后再试。'); });
  });
}());
