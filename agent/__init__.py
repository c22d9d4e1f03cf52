"""The LiveKit voice agent.

Its processes mask personal data in every log line (functions/common/redaction.py `install_log_masking`): the
agent's entry (agent/main.py) and a simulated call (agent/simulate.py `run_script`) install it, so no email address
or phone number reaches a log line, whichever logger writes it (ours, LiveKit's, botocore's). The agent's own log
calls never include transcript text or the contact given to book_sales_meeting.
"""
