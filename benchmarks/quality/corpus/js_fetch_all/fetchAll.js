// Load the detail record of every order in a list, for the export job.

const BASE_URL = "https://orders.internal.example.com";

async function fetchOrder(id) {
  const res = await fetch(`${BASE_URL}/orders/${encodeURIComponent(id)}`);
  return res.json();
}

async function fetchAll(ids) {
  const results = [];
  ids.forEach(async (id) => {
    const order = await fetchOrder(id);
    results.push(order);
  });
  return results;
}

function summarise(orders) {
  const byStatus = {};
  for (const order of orders) {
    byStatus[order.status] = (byStatus[order.status] || 0) + 1;
  }
  return byStatus;
}

async function exportOrders(ids, write) {
  const orders = await fetchAll(ids);
  await write(JSON.stringify({ count: orders.length, byStatus: summarise(orders), orders }));
  return orders.length;
}

module.exports = { fetchOrder, fetchAll, summarise, exportOrders };
