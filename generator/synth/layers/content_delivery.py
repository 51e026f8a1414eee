"""Content delivery: CloudFront in front of a private S3 static site (via Origin Access Control) and the API."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, cloudfront

from generator.synth.context import Context
from generator.synth.layers.api import STAGE
from generator.synth.layers.persistence import private_bucket
from generator.synth.policy import statement
from generator.synth.registry import layer

# AWS managed CloudFront policies (IDs are global and fixed).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
DISTRIBUTION = "Distribution"  # its logical ID, which the site bucket's policy names before the distribution exists


@layer(provides={"distribution", "site_bucket", "bucket_policies"}, needs={"key", "rest_api", "access_logs"}, source="content_delivery")
def build(ctx: Context) -> None:
    cd, reg = ctx.spec.content_delivery, ctx.reg
    if not cd.enabled:
        return
    headers = ctx.add(_security_headers(ctx), "Security headers on every response (HSTS, nosniff, frame deny, referrer, CSP)")
    api_origin = cloudfront.Origin(
        Id="api",
        DomainName=Sub(f"${{{reg.rest_api.title}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"),
        # With a site, /api/* is forwarded as is and "api" is the stage; without one, everything goes to the stage.
        OriginPath="" if cd.static_site else f"/{STAGE}",
        CustomOriginConfig=cloudfront.CustomOriginConfig(OriginProtocolPolicy="https-only", OriginSSLProtocols=["TLSv1.2"]),
    )
    api_behavior = dict(
        TargetOriginId="api", ViewerProtocolPolicy="https-only", AllowedMethods=ALL_METHODS, CachedMethods=["GET", "HEAD"],
        CachePolicyId=CACHING_DISABLED, OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST, ResponseHeadersPolicyId=Ref(headers), Compress=True,
    )
    config: dict[str, object] = dict(
        Enabled=True,
        Comment=f"{ctx.service} (msgen)",
        HttpVersion="http2and3",
        IPV6Enabled=True,
        PriceClass=cd.price_class,
        Logging=cloudfront.Logging(Bucket=GetAtt(reg.access_logs, "DomainName"), Prefix="cloudfront/", IncludeCookies=False),
    )
    if cd.static_site:
        site = reg.site_bucket = private_bucket(ctx, "SiteBucket", "Static site content, readable only by this distribution")
        oac = ctx.add(
            cloudfront.OriginAccessControl(
                "SiteOriginAccessControl",
                OriginAccessControlConfig=cloudfront.OriginAccessControlConfig(
                    Name=ctx.physical("site"), OriginAccessControlOriginType="s3", SigningBehavior="always", SigningProtocol="sigv4",
                    Description="CloudFront signs every request to the site bucket",
                ),
            ),
            "Lets CloudFront, and only CloudFront, read the site bucket",
        )
        config["Origins"] = [
            cloudfront.Origin(
                Id="site", DomainName=GetAtt(site, "RegionalDomainName"), OriginAccessControlId=GetAtt(oac, "Id"),
                S3OriginConfig=cloudfront.S3OriginConfig(OriginAccessIdentity=""),
            ),
            api_origin,
        ]
        config["DefaultRootObject"] = "index.html"
        config["DefaultCacheBehavior"] = cloudfront.DefaultCacheBehavior(
            TargetOriginId="site", ViewerProtocolPolicy="redirect-to-https", AllowedMethods=["GET", "HEAD", "OPTIONS"],
            CachedMethods=["GET", "HEAD"], CachePolicyId=CACHING_OPTIMIZED, ResponseHeadersPolicyId=Ref(headers), Compress=True,
        )
        config["CacheBehaviors"] = [cloudfront.CacheBehavior(PathPattern=f"/{STAGE}/*", **api_behavior)]
        reg.bucket_policies.add(site, statement(
            ["s3:GetObject"], Sub(f"${{{site.title}.Arn}}/*"), sid="CloudFrontReads",
            Principal={"Service": "cloudfront.amazonaws.com"},
            Condition={"StringEquals": {"AWS:SourceArn": Sub(
                f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{DISTRIBUTION}}}")}},
        ))
    else:
        config["Origins"] = [api_origin]
        config["DefaultCacheBehavior"] = cloudfront.DefaultCacheBehavior(**api_behavior)
    skips = []
    if cd.domain:
        config["Aliases"] = [cd.domain.name]
        config["ViewerCertificate"] = cloudfront.ViewerCertificate(
            AcmCertificateArn=cd.domain.certificate_arn, SslSupportMethod="sni-only", MinimumProtocolVersion="TLSv1.2_2021"
        )
    else:
        config["ViewerCertificate"] = cloudfront.ViewerCertificate(CloudFrontDefaultCertificate=True)
        skips.append("CKV_AWS_174")
    if cd.web_acl_arn:
        config["WebACLId"] = cd.web_acl_arn
    else:
        skips.append("CKV_AWS_68")
    reg.distribution = ctx.add(
        cloudfront.Distribution(DISTRIBUTION, DistributionConfig=cloudfront.DistributionConfig(**config)),
        "CloudFront: HTTPS only, security headers, static site at /, API under /api/*",
        skips=tuple(skips),
    )


def _security_headers(ctx: Context) -> cloudfront.ResponseHeadersPolicy:
    return cloudfront.ResponseHeadersPolicy(
        "SecurityHeadersPolicy",
        ResponseHeadersPolicyConfig=cloudfront.ResponseHeadersPolicyConfig(
            Name=ctx.physical("security-headers"),
            Comment="msgen security headers",
            SecurityHeadersConfig=cloudfront.SecurityHeadersConfig(
                StrictTransportSecurity=cloudfront.StrictTransportSecurity(
                    AccessControlMaxAgeSec=63072000, IncludeSubdomains=True, Preload=True, Override=True
                ),
                ContentTypeOptions=cloudfront.ContentTypeOptions(Override=True),
                FrameOptions=cloudfront.FrameOptions(FrameOption="DENY", Override=True),
                ReferrerPolicy=cloudfront.ReferrerPolicy(ReferrerPolicy="strict-origin-when-cross-origin", Override=True),
                XSSProtection=cloudfront.XSSProtection(Protection=True, ModeBlock=True, Override=True),
                ContentSecurityPolicy=cloudfront.ContentSecurityPolicy(
                    ContentSecurityPolicy="default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'", Override=False
                ),
            ),
        ),
    )
