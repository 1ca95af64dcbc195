'use strict';

/**
 * Month grid for the room-booking page. Months are 1-based in this module's API (1 = January),
 * dates are local calendar dates of the user's browser, keys are "YYYY-MM-DD".
 */

function pad(n) {
  return String(n).padStart(2, '0');
}

function dateKey(date) {
  return date.toISOString().slice(0, 10);
}

function daysInMonth(year, month) {
  return new Date(year, month, 0).getDate();
}

function monthGrid(year, month, weekStartsOn = 1) {
  // Weeks of the month as arrays of 7 keys (null for padding days outside the month).
  const first = new Date(year, month - 1, 1);
  const lead = (first.getDay() - weekStartsOn + 7) % 7;
  const cells = Array(lead).fill(null);
  for (let day = 1; day <= daysInMonth(year, month); day += 1) {
    cells.push(`${year}-${pad(month)}-${pad(day)}`);
  }
  while (cells.length % 7 !== 0) {
    cells.push(null);
  }
  const weeks = [];
  for (let i = 0; i < cells.length; i += 7) {
    weeks.push(cells.slice(i, i + 7));
  }
  return weeks;
}

function bookedDays(bookings) {
  // Set of day keys covered by bookings; each booking has Date objects start and end (end exclusive).
  const days = new Set();
  for (const { start, end } of bookings) {
    const d = new Date(start.getFullYear(), start.getMonth(), start.getDate());
    while (d < end) {
      days.add(dateKey(d));
      d.setDate(d.getDate() + 1);
    }
  }
  return days;
}

function isToday(key, now = new Date()) {
  return key === `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

module.exports = { daysInMonth, monthGrid, bookedDays, isToday, dateKey };
