-- Handovers (issue 13). A dialog remembers the sequence it had when the
-- conversation last changed hands (a transfer to a skill or an agent, or the
-- assigned agent leaving it to the queue): the consumer messages after it
-- were written to whoever takes the conversation next, the ones before it
-- belonged to the previous agent's part. A new conversation has 0.
ALTER TABLE conversation_dialogs ADD COLUMN handoff_sequence BIGINT NOT NULL DEFAULT 0;

-- bot_conversations.welcomed now says that the assignment's welcome is
-- settled (sent, or not wanted when the bot got the conversation), so that
-- turning the Welcome Message option on later greets only conversations the
-- bot gets from then on. Conversations open before this migration were
-- assigned under the old rule: none of them is greeted again.
UPDATE bot_conversations SET welcomed = TRUE WHERE open;
