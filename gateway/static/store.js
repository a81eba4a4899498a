// A few promises over IndexedDB: one database, object stores keyed by an inline `id`.
// IndexedDB (not localStorage) because it keeps CryptoKey objects, non-extractable keys included.

const DB_NAME = "ticketkit";
const VERSION = 2;
// device-keys: the fan's keys (ticket page); gate-lists: the scanner's signed list and its deltas (too big for
// localStorage at stadium size: 80,000 tickets are tens of megabytes of JSON).
const STORES = ["device-keys", "gate-lists"];
let opening = null;

function open() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const name of STORES) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, { keyPath: "id" });
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opening;
}

async function run(store, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = action(tx.objectStore(store));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const get = (store, id) => run(store, "readonly", (s) => s.get(id));
export const put = (store, record) => run(store, "readwrite", (s) => s.put(record));
export const remove = (store, id) => run(store, "readwrite", (s) => s.delete(id));
