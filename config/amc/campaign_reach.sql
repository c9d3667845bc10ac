-- Reach and impressions of each Sponsored Ads campaign, and the rows AMC filtered for privacy.
-- @distinctUserCountColumn reach
-- @filteredMetricsDiscriminatorColumn filtered
SELECT
  campaign,
  SUM(impressions) AS impressions,
  COUNT(DISTINCT user_id) AS reach,
  filtered
FROM sponsored_ads_traffic
GROUP BY campaign, filtered
