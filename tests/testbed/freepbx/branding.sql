-- The framework source the bed installs from carries a third party's branding: back to FreePBX's own.
UPDATE freepbx_settings SET value = CASE keyword
    WHEN 'BRAND_IMAGE_TANGO_LEFT' THEN 'images/tango.png'
    WHEN 'BRAND_IMAGE_FREEPBX_FOOT' THEN 'images/freepbx_small.png'
    WHEN 'BRAND_IMAGE_SPONSOR_FOOT' THEN 'images/sangoma-horizontal_thumb.png'
    WHEN 'BRAND_IMAGE_FAVICON' THEN 'images/favicon.ico'
    WHEN 'BRAND_TITLE' THEN 'FreePBX Administration'
    WHEN 'BRAND_SPONSOR_ALT_FOOT' THEN 'www.sangoma.com'
    WHEN 'BRAND_IMAGE_FREEPBX_LINK_LEFT' THEN 'http://www.freepbx.org'
    WHEN 'BRAND_IMAGE_FREEPBX_LINK_FOOT' THEN 'http://www.freepbx.org'
    WHEN 'BRAND_IMAGE_SPONSOR_LINK_FOOT' THEN 'http://www.sangoma.com'
    ELSE 'FreePBX' END
WHERE keyword IN ('BRAND_IMAGE_TANGO_LEFT', 'BRAND_IMAGE_FREEPBX_FOOT', 'BRAND_IMAGE_SPONSOR_FOOT',
    'BRAND_IMAGE_FAVICON', 'BRAND_TITLE', 'BRAND_SPONSOR_ALT_FOOT', 'BRAND_IMAGE_FREEPBX_LINK_LEFT',
    'BRAND_IMAGE_FREEPBX_LINK_FOOT', 'BRAND_IMAGE_SPONSOR_LINK_FOOT', 'BRAND_FREEPBX_ALT_LEFT',
    'BRAND_FREEPBX_ALT_FOOT', 'DASHBOARD_FREEPBX_BRAND');
UPDATE freepbx_settings SET defaultval = value WHERE keyword LIKE 'BRAND%' OR keyword = 'DASHBOARD_FREEPBX_BRAND';
