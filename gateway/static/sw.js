// The pages' service worker (served as /app/sw.js, scope /app/): the pages and their files load with no
// network, from the copy kept at the last visit. The JSON API is never cached: it is always the network's.

const CACHE = "ticketkit-pages-v2";
const FILES = [
  "ticket", "scanner", "static/app.css", "static/gatecode.js", "static/store.js", "static/ticket.js",
  "static/offline.js", "static/scanner.js", "static/vendor/jsQR.js", "static/vendor/qrcode.mjs",
  "static/ticket.webmanifest", "static/scanner.webmanifest", "static/icon.svg", "static/icon-192.png",
  "static/icon-512.png",
];

self.addEventListener("install", (event) => {
  const urls = FILES.map((file) => new URL(file, self.registration.scope));
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(urls)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

// Network first (a deploy shows at once), the kept copy when the network fails.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  const ours = url.origin === scope.origin && url.pathname.startsWith(scope.pathname);
  if (event.request.method !== "GET" || !ours) return; // the API (/gate, /fans, /tickets) is outside the scope
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const key = url.origin + url.pathname; // the fragment (#token=, #key=) and query are not part of a page
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(key, response.clone());
      return response;
    } catch (error) {
      const kept = await cache.match(key);
      if (kept) return kept;
      throw error;
    }
  })());
});
