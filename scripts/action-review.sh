#!/usr/bin/env bash
# The review step of the rebuttal GitHub Action (action.yml), runnable anywhere:
# reviews BASE..HEAD of the repository in the current folder and writes, under REBUTTAL_OUT,
#   rebuttal.sarif          SARIF 2.1.0 for code scanning
#   summary.md              the pull-request summary (with a marker line, for updating one comment)
#   review-comments.json    line comments, the body of GitHub's create-review API
#   runs/<run-id>/          the run directory (review.json: the review's JSON answer)
# It exits 0 whether or not the --fail-on gate trips (the action fails in a later step, after the
# uploads), and 2 on an error. Outputs go to $GITHUB_OUTPUT when set: run-dir, sarif, summary,
# review-comments, gate (pass|fail), findings.
#
# Environment: REBUTTAL_BASE, REBUTTAL_HEAD (commits or refs; required), REBUTTAL_MODEL, REBUTTAL_JUDGE,
# REBUTTAL_WORKFLOW, REBUTTAL_BUDGET ("60" = at most 60 calls, "$0.50" = at most 0.50 USD),
# REBUTTAL_FAIL_ON, REBUTTAL_COMMENT_ON, REBUTTAL_MAX_COMMENTS, REBUTTAL_OUT, REBUTTAL_RUN_ID,
# REBUTTAL_EXTRA_ARGS (more `rebuttal review` options, split on spaces).
set -euo pipefail

die() { echo "rebuttal action: $*" >&2; exit 2; }

base="${REBUTTAL_BASE:-}"
head="${REBUTTAL_HEAD:-}"
[ -n "$base" ] || die "REBUTTAL_BASE is empty (on pull_request events it is the base commit)"
[ -n "$head" ] || die "REBUTTAL_HEAD is empty (on pull_request events it is the head commit)"
out="${REBUTTAL_OUT:-rebuttal-out}"
run_id="${REBUTTAL_RUN_ID:-rebuttal-${GITHUB_RUN_ID:-local}-${GITHUB_RUN_ATTEMPT:-1}}"
fail_on="${REBUTTAL_FAIL_ON:-truth>=0.7 and usefulness>=0.6 and severity>=high}"
marker="<!-- rebuttal-summary -->"

for rev in "$base" "$head"; do
  git rev-parse --verify --quiet "$rev^{commit}" >/dev/null \
    || die "unknown commit '$rev': check out with fetch-depth: 0 so the base is present"
done

args=(review . --diff "$base..$head" --out "$out/runs" --run-id "$run_id" --json
      --sarif "$out/rebuttal.sarif" --markdown-summary "$out/summary.body.md" --fail-on "$fail_on")
[ -n "${REBUTTAL_MODEL:-}" ] && args+=(--model "$REBUTTAL_MODEL")
[ -n "${REBUTTAL_JUDGE:-}" ] && args+=(--judge "$REBUTTAL_JUDGE")
[ -n "${REBUTTAL_WORKFLOW:-}" ] && args+=(--workflow "$REBUTTAL_WORKFLOW")
budget="${REBUTTAL_BUDGET:-}"
case "$budget" in
  "") ;;
  \$*) args+=(--max-usd "${budget#\$}") ;;
  *[!0-9]*) die "budget must be a number of calls (60) or dollars (\$0.50), got '$budget'" ;;
  *) args+=(--max-calls "$budget") ;;
esac
if [ -n "${REBUTTAL_EXTRA_ARGS:-}" ]; then
  read -r -a extra <<< "$REBUTTAL_EXTRA_ARGS"
  args+=("${extra[@]}")
fi

mkdir -p "$out"
set +e
rebuttal "${args[@]}" > "$out/review.json"
code=$?
set -e
case "$code" in
  0) gate=pass ;;
  1) gate=fail ;;
  *) die "rebuttal review failed (exit $code)" ;;
esac
mapfile -t answer < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(d["run_dir"]); print(len(d["findings"]))' "$out/review.json")
run_dir="${answer[0]}"
findings="${answer[1]}"
rebuttal report "$run_dir" --review-comments "$out/review-comments.json" \
  --comment-on "${REBUTTAL_COMMENT_ON:-truth>=0.6 and usefulness>=0.5 and status!=refuted}" \
  --max-comments "${REBUTTAL_MAX_COMMENTS:-20}"
{ echo "$marker"; cat "$out/summary.body.md"; } > "$out/summary.md"
rm -f "$out/summary.body.md"
cat "$out/summary.md"
[ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
echo "rebuttal: $findings finding(s) in $run_dir; gate '$fail_on': $gate"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "run-dir=$run_dir"
    echo "sarif=$out/rebuttal.sarif"
    echo "summary=$out/summary.md"
    echo "review-comments=$out/review-comments.json"
    echo "gate=$gate"
    echo "findings=$findings"
  } >> "$GITHUB_OUTPUT"
fi
