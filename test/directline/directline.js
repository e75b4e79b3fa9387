'use strict';
// offline-directline's router on 127.0.0.1, the Direct Line side of the
// Bot Framework stack the directline connector's Go tests talk to.
//
//   BOT_URL=http://127.0.0.1:3978/api/messages PORT=0 node directline.js
//
// PORT (or the first argument) is the port to bind; 0 picks a free one. Once
// listening it prints one JSON line, {"listening":<port>}, on stdout. The
// routes are offline-directline's: /directline/conversations... (no /v3).
const express = require('express');
const { getRouter } = require('offline-directline');

const botUrl = process.env.BOT_URL;
if (!botUrl) {
  console.error('BOT_URL is required (the bot\'s /api/messages URL)');
  process.exit(2);
}
const port = Number(process.argv[2] || process.env.PORT || 0);

const app = express();
const server = app.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  // The router needs its own URL (the serviceUrl the bot answers to), known
  // only once the port is bound.
  app.use(getRouter(`http://127.0.0.1:${actual}`, botUrl));
  console.log(JSON.stringify({ listening: actual }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
