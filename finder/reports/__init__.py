"""Problem reports: anyone can say a listing is wrong; owners and moderators hear of it."""
