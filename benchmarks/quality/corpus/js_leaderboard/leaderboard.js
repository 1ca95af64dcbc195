'use strict';

/**
 * Weekly leaderboard for the quiz game: best score per player, ranked with ties sharing a rank
 * ("1, 2, 2, 4"), and the score needed to reach the top N.
 */

function bestScores(results) {
  const best = new Map();
  for (const { player, score } of results) {
    if (!Number.isFinite(score)) {
      throw new TypeError(`score of ${player} is not a number`);
    }
    if (!best.has(player) || score > best.get(player)) {
      best.set(player, score);
    }
  }
  return best;
}

function rank(results) {
  const rows = [...bestScores(results)].map(([player, score]) => ({ player, score }));
  rows.sort((a, b) => b.score - a.score || a.player.localeCompare(b.player));
  let previous = null;
  let currentRank = 0;
  rows.forEach((row, i) => {
    if (row.score !== previous) {
      currentRank = i;
      previous = row.score;
    }
    row.rank = currentRank;
  });
  return rows;
}

function cutoffForTop(results, n) {
  // The lowest score that still places a player in the top n, or null when fewer than n players.
  const scores = [...bestScores(results).values()].sort().reverse();
  if (scores.length < n) {
    return null;
  }
  return scores[n - 1];
}

function formatBoard(rows, limit = 10) {
  return rows
    .slice(0, limit)
    .map((r) => `${String(r.rank).padStart(3)}. ${r.player.padEnd(16)} ${r.score}`)
    .join('\n');
}

module.exports = { bestScores, rank, cutoffForTop, formatBoard };
