"""Activity names the workflows call. Workflows import names, never the implementations
(those touch the database); the worker registers implementations under these names."""

REGISTER_CUSTOMER = "register_customer"
RECORD_ENROLLMENT = "record_enrollment"
RECORD_QUOTE = "record_quote"
VERIFY_APPLICANT = "verify_applicant"
OPEN_TASK = "open_task"
CHANGE_TASK = "change_task"
CHARGE_PREMIUM = "charge_premium"
CREATE_PAYMENT_ORDER = "create_payment_order"
SETTLE_ONLINE_PAYMENT = "settle_online_payment"
REFUND_PREMIUM = "refund_premium"
ISSUE_POLICY = "issue_policy"
SET_POLICY_STATUS = "set_policy_status"
SEND_NOTIFICATION = "send_notification"
RECORD_CLAIM = "record_claim"
LOAD_POLICY_POSITION = "load_policy_position"
PAY_CLAIM = "pay_claim"
RECORD_CHANGES = "record_changes"

# Since LOCAL_STEPS_PATCH, the short steps against our own database run as local
# activities: the worker executes them inside the workflow task that asks for them, so
# each saves two trips through the server (schedule, then completion) and a workflow task.
# The steps whose result the process needs run one by one (LOCAL); the writes it needs
# nothing back from (BATCHED, and the state's record) are queued and applied together by
# one RECORD_CHANGES local activity just before the process next waits or calls another
# step (activities/changes.py). Steps that call an outside service (the payment gateway)
# stay regular activities: ops see their attempts and failures while they retry, and a
# charge in flight is awaited on cancellation. Runs from before the patch replay with
# every step a regular activity, as their histories say.
LOCAL = frozenset({REGISTER_CUSTOMER, VERIFY_APPLICANT, LOAD_POLICY_POSITION, RECORD_CHANGES})
# The value names the field of domain.activities.Change the write goes in.
BATCHED = {
    RECORD_QUOTE: "quote",
    OPEN_TASK: "task_open",
    CHANGE_TASK: "task_change",
    ISSUE_POLICY: "policy_issue",
    SET_POLICY_STATUS: "policy_status",
    SEND_NOTIFICATION: "notification",
}
STEP_OF_CHANGE = {field: name for name, field in BATCHED.items()}
# The workflow.patched id guarding that change. Runs started before it replay with every
# step a regular activity, as their histories say.
LOCAL_STEPS_PATCH = "local-steps-1"
# Runs since this patch also compensate when the cancellation interrupts a step in flight
# (the step then fails as cancelled instead of the wait being cancelled).
COMPENSATE_CANCELLED_STEP = "compensate-cancelled-step-1"
