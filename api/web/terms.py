"""The codes the console shows (task kinds, stages, statuses, decisions, document kinds,
flags, roles), each as the words a person reads. The msgids are the English words; the
catalogues hold the Chinese. A code not listed here is shown as it is, underscores as spaces.
"""

from __future__ import annotations

from domain.texts import N_

TERMS: dict[str, str] = {
    # Roles.
    "agent": N_("agent"),
    "supervisor": N_("supervisor"),
    "ops": N_("ops"),
    "admin": N_("admin"),
    "system": N_("system"),
    # Processes.
    "enrollment": N_("enrollment"),
    "claim": N_("claim"),
    "EnrollmentWorkflow": N_("enrollment"),
    "ClaimWorkflow": N_("claim"),
    # Task kinds.
    "underwriting": N_("underwriting"),
    "claim_review": N_("claim review"),
    "claim_approval": N_("claim approval"),
    "payout_failed": N_("payout failed"),
    "late_payment": N_("late payment"),
    # Task statuses and decisions.
    "open": N_("open"),
    "claimed": N_("claimed"),
    "done": N_("done"),
    "completed": N_("completed"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "approve": N_("approve"),
    "reject": N_("reject"),
    "request_info": N_("request info"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    # Execution statuses (Temporal's).
    "running": N_("running"),
    "failed": N_("failed"),
    "canceled": N_("cancelled"),
    "terminated": N_("terminated"),
    "timed_out": N_("timed out"),
    "halted": N_("halted"),
    # Enrollment stages and outcomes.
    "consultation": N_("consultation"),
    "quoted": N_("quoted"),
    "application_submitted": N_("application submitted"),
    "verification": N_("verification"),
    "awaiting_payment": N_("awaiting payment"),
    "issued": N_("issued"),
    "effective": N_("effective"),
    "closed": N_("closed"),
    "in_progress": N_("in progress"),
    "withdrawn": N_("withdrawn"),
    "lapsed": N_("lapsed"),
    "unknown": N_("unknown"),
    # Claim stages and outcomes.
    "reported": N_("reported"),
    "documents_pending": N_("documents pending"),
    "under_review": N_("under review"),
    "assessment": N_("assessment"),
    "awaiting_approval": N_("awaiting approval"),
    "paid": N_("paid"),
    "appealed": N_("appealed"),
    # Claim approval tiers.
    "auto": N_("automatic"),
    "single": N_("single approval"),
    "dual": N_("dual approval"),
    # Incidents.
    "death": N_("death"),
    "total_disability": N_("total disability"),
    "accidental_death": N_("accidental death"),
    "accident_disability": N_("accident disability"),
    "accident_medical": N_("accident medical"),
    "hospitalisation": N_("hospitalisation"),
    "outpatient_surgery": N_("outpatient surgery"),
    # Documents.
    "accident_report": N_("accident report"),
    "beneficiary_proof": N_("beneficiary proof"),
    "claim_form": N_("claim form"),
    "death_certificate": N_("death certificate"),
    "disability_assessment": N_("disability assessment"),
    "discharge_summary": N_("discharge summary"),
    "id_proof": N_("ID proof"),
    "medical_invoice": N_("medical invoice"),
    "medical_records": N_("medical records"),
    "surgery_record": N_("surgery record"),
    # Verification checks, risk flags and why a person decides.
    "id_number": N_("ID number"),
    "age_band": N_("age band"),
    "sanctions": N_("sanctions"),
    "duplicate_application": N_("duplicate application"),
    "near_max_age": N_("near maximum age"),
    "declared_health_conditions": N_("declared health conditions"),
    "above_auto_underwriting_limit": N_("above the automatic underwriting limit"),
    # Assessment flags and reductions.
    "early_claim": N_("early claim"),
    "claim_exceeds_sum_insured": N_("claim exceeds sum insured"),
    "deductible": N_("deductible"),
    "co_payment": N_("co-payment"),
    "coverage_cap": N_("coverage cap"),
    "remaining_sum_insured": N_("remaining sum insured"),
    # Deadlines and breaches.
    "documents_due": N_("documents due"),
    "decision_due": N_("decision due"),
    "payout_due": N_("payout due"),
    "appeal_until": N_("appeal until"),
    "task_due": N_("task due"),
    "task_escalates": N_("task escalates"),
    "task_expires": N_("task expires"),
    "decision_deadline": N_("decision deadline"),
    "payout_deadline": N_("payout deadline"),
    # Pending activity states (Temporal's).
    "scheduled": N_("scheduled"),
    "started": N_("started"),
    "cancel_requested": N_("cancel requested"),
    "paused": N_("paused"),
}
