"""build_graph(workflow): wiring only. Stages live in engine/stages/."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from engine.config import Workflow
from engine.context import RunContext
from engine.stages import claims, findings, rebuttals, responses, reviews, self_review
from engine.stages.compile import compile_report
from engine.stages.personas import choose_personas
from engine.stages.verify import analyze, verify_findings
from engine.state import RunState

# stage kind -> list of (dispatch, worker name, worker, join name, join) fan-outs, in order
FANOUTS: dict[str, list[tuple[Any, str, Any, str, Any]]] = {
    "reviews": [(reviews.dispatch_reviews, "write_review", reviews.write_review, "reviews_done",
                 reviews.reviews_done)],
    "responses": [
        (responses.dispatch_picks, "pick_reviews", responses.pick_reviews, "picks_done", responses.picks_done),
        (responses.dispatch_responses, "write_response", responses.write_response, "responses_done",
         responses.responses_done),
    ],
    "rebuttals": [(rebuttals.dispatch_rebuttals, "write_rebuttal", rebuttals.write_rebuttal, "rebuttals_done",
                   rebuttals.rebuttals_done)],
    "findings": [(findings.dispatch_findings, "write_findings", findings.write_findings, "findings_done",
                  findings.findings_done)],
}


def build_graph(workflow: Workflow) -> StateGraph:
    """The StateGraph for a workflow file: personas, fan-out stages joined by reducers, verify, compile."""
    g = StateGraph(RunState, context_schema=RunContext)
    g.add_node("personas", choose_personas)
    g.add_edge(START, "personas")
    verify = workflow.stage("verify") is not None
    g.add_node("claims", claims.extract_claims)  # documents only: a no-op for code
    g.add_edge("personas", "claims")
    prev = "claims"
    for spec in workflow.stages[1:]:
        kind = spec.stage
        if kind in FANOUTS:
            for dispatch, worker_name, worker, join_name, join in FANOUTS[kind]:
                g.add_node(worker_name, worker)
                g.add_node(join_name, join)
                g.add_conditional_edges(prev, dispatch, [worker_name, join_name])
                g.add_edge(worker_name, join_name)
                prev = join_name
            if kind == "reviews" and verify:  # analyzer hits no persona raised join the debate as a review
                g.add_node("analyze", analyze)
                g.add_edge(prev, "analyze")
                prev = "analyze"
            if kind == "reviews":  # the cross-check hits no persona raised enter the debate as a review
                g.add_node("check_claims", claims.check_claims)
                g.add_edge(prev, "check_claims")
                prev = "check_claims"
        elif kind == "self_review":
            g.add_node("critique", self_review.critique)
            g.add_node("revise", self_review.revise)
            g.add_edge(prev, "critique")
            after = "verify" if verify else "compile"
            g.add_conditional_edges("critique", self_review.after_critique, {"revise": "revise", "compile": after})
            g.add_edge("revise", "critique")
            prev = "critique"
        elif kind == "verify":
            g.add_node("verify", verify_findings)
            if prev != "critique":
                g.add_edge(prev, "verify")
            prev = "verify"
        elif kind == "compile":
            g.add_node("compile", compile_report)
            if prev != "critique":
                g.add_edge(prev, "compile")
            g.add_edge("compile", END)
    return g
