"""Secured endpoint: JWT and TLS in prod, open (and saying so) in dev; the model namespace is isolated."""
from __future__ import annotations


def test_prod_requires_jwt_at_the_gateway(stack):
    run = stack("aws-prod")
    auth = run.one("RequestAuthentication").plain
    assert auth["metadata"]["namespace"] == "istio-system"
    assert auth["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    assert auth["spec"]["jwtRules"] == [{"issuer": "https://auth.example.com/",
                                         "jwksUri": "https://auth.example.com/.well-known/jwks.json"}]
    policy = run.one("AuthorizationPolicy").plain["spec"]
    assert policy["action"] == "DENY"
    assert policy["rules"][0]["from"] == [{"source": {"notRequestPrincipals": ["*"]}}]
    host = run.outputs["modelHost"]
    assert policy["rules"][0]["to"][0]["operation"]["hosts"] == [host, f"{host}:*"]
    assert run.outputs["endpointOpen"] is False
    assert run.depends_on(run.one("RequestAuthentication"), run.helm("base"))


def test_prod_serves_tls_from_a_cert_manager_certificate(stack):
    run = stack("aws-prod")
    cert = run.one("Certificate").plain
    assert cert["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "letsencrypt-prod", "group": "cert-manager.io"}
    assert cert["spec"]["dnsNames"] == [run.outputs["modelHost"]]
    assert run.depends_on(run.one("Certificate"), run.helm("cert-manager"))
    servers = run.one("KnativeServing").plain["spec"]["ingress"]["istio"]["knative-ingress-gateway"]["servers"]
    https = next(s for s in servers if s["port"]["number"] == 443)
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": cert["spec"]["secretName"]}
    assert next(s for s in servers if s["port"]["number"] == 80)["tls"] == {"httpsRedirect": True}
    assert run.outputs["curl"].startswith("curl --connect-to ")
    assert run.helm("kserve-resources").plain["values"]["kserve"]["controller"]["gateway"]["urlScheme"] == "https"
    assert run.outputs["endpointScheme"] == "https"


def test_dev_is_open_and_says_so(stack):
    run = stack("aws-dev")
    assert not run.of_type("RequestAuthentication") and not run.of_type("AuthorizationPolicy")
    assert not run.of_type("Certificate")
    assert run.outputs["endpointOpen"] is True and run.outputs["endpointAuth"] == "none"
    assert run.helm("kserve-resources").plain["values"]["kserve"]["controller"]["gateway"]["urlScheme"] == "http"


def test_model_namespace_admits_only_itself_fluid_and_the_serving_path(stack):
    run = stack("aws-dev")
    policy = run.one("NetworkPolicy").plain
    assert policy["metadata"]["namespace"] == "models" and policy["spec"]["podSelector"] == {}
    sources = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for p in policy["spec"]["ingress"][0]["from"]]
    assert sources == ["models", "fluid-system", "knative-serving", "istio-system"]
    # workers on pod networking, so the policy applies to them
    assert run.one("JindoRuntime").plain["spec"]["networkmode"] == "ContainerNetwork"
    assert run.one("eks:index:Cluster").plain["vpcCniOptions"] == {"enableNetworkPolicy": True}
