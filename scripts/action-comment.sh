#!/usr/bin/env bash
# The comment step of the rebuttal GitHub Action: create or update the one summary comment on the pull
# request (found by the marker line that action-review.sh puts first), and with POST_REVIEW=true post
# the line comments as a review. Needs GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER, SUMMARY, REVIEW_COMMENTS.
set -euo pipefail

marker="<!-- rebuttal-summary -->"
[ -n "${PR_NUMBER:-}" ] || { echo "rebuttal action: not a pull request; no comment posted"; exit 0; }
body=$(cat "$SUMMARY")

existing=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
  --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" -f body="$body" >/dev/null
  echo "rebuttal action: updated comment $existing"
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -f body="$body" >/dev/null
  echo "rebuttal action: posted the summary comment"
fi

if [ "${POST_REVIEW:-false}" = "true" ]; then
  count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["comments"]))' "$REVIEW_COMMENTS")
  if [ "$count" -gt 0 ]; then
    gh api --method POST "repos/$GITHUB_REPOSITORY/pulls/$PR_NUMBER/reviews" --input "$REVIEW_COMMENTS" >/dev/null
    echo "rebuttal action: posted a review with $count line comment(s)"
  fi
fi
