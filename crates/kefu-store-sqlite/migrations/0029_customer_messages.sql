-- Issue 21: a note that is a message from the customer (an SMS, an e-mail,
-- a WeChat message) names the channel it came by; staff notes have none.
ALTER TABLE comments ADD COLUMN channel TEXT;
