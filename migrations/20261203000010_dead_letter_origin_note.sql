-- How a dead letter's original topic was found when no header names it: from the
-- dead-letter topic's name (which ecosystem's convention), or not at all. NULL: a header
-- names it. Shown on the dead letter's page beside the replay target (issue 18).
ALTER TABLE dead_letters ADD COLUMN origin_note TEXT;
