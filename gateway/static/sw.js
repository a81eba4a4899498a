// The pages' service worker (served as /app/sw.js, scope /app/): the pages and their files load with no
// network, from the copy kept at the last visit. The JSON API is never cached: it is always the network's.

const CACHE = "ticketkit-pages-v1";
const FILES = [
  "ticket", "scanner", "static/app.css", "static/gatecode.js", "static/store.js", "static/ticket.js",
  "static/offline.js", "static/scanner.js", "static/vendor/jsQR.js", "static/vendor/qrcode.mjs",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES.map((f) => new URL(f, self.registration.scope)))));
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
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
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
