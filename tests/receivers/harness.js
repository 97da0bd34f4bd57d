// Wiring shared by the seed receivers, kept out of the seeds' own code: the Express app,
// where each receiver records what it handled, and the port.
//
// - Every record is kept for `GET /received` (a JSON array) and, when RECEIVED_LOG names a
//   file, appended to it as one JSON line.
// - Any answer >= 400 to a POST is recorded as the branch `rejected <status>` (the seeds'
//   401 paths stay as printed).
// - Port: argv[2], else PORT, else 0 (the OS chooses); binds 127.0.0.1 and prints
//   `listening <port>` once listening.
const fs = require("fs");
const express = require("express");

function createApp(receiver) {
  const app = express();
  const received = [];

  function record(entry) {
    const line = { receiver, at: new Date().toISOString(), ...entry };
    received.push(line);
    if (process.env.RECEIVED_LOG) {
      fs.appendFileSync(process.env.RECEIVED_LOG, JSON.stringify(line) + "\n");
    }
  }

  app.use((req, res, next) => {
    res.on("finish", () => {
      if (req.method === "POST" && res.statusCode >= 400) {
        record({ branch: `rejected ${res.statusCode}`, status: res.statusCode, path: req.path });
      }
    });
    next();
  });
  app.get("/received", (req, res) => res.json(received));

  return { app, express, record };
}

function listen(app) {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
  const server = app.listen(port, "127.0.0.1", (err) => {
    if (err) throw err;
    console.log(`listening ${server.address().port}`);
  });
  return server;
}

module.exports = { createApp, listen };
