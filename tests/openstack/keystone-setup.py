"""Fills a freshly bootstrapped Keystone with what the Cinder tests need, in one process
(far faster than one `openstack` call per object). Run by start-keystone-cinder with
Debian's /usr/bin/python3; arguments come from the environment:

  KS_URL           http://127.0.0.1:PORT/v3
  ADMIN_PASSWORD   the bootstrap admin's password
  CINDER_URL       http://127.0.0.1:PORT/v3/%(project_id)s
  CINDER_PASSWORD  password for the `cinder` service user
  SERVICE_TYPES    catalog service types to register for Cinder, space separated
  TWO_REGIONS      "1": also a region RegionTwo with a volumev3 endpoint
  REGION_TWO_URL   the RegionTwo endpoint (default: CINDER_URL)
  DEMO_PASSWORD    password for the non-admin `demo` user
  GLANCE_URL       optional: http://127.0.0.1:PORT, registered as service `glance` (type image)
  GLANCE_PASSWORD  password for the `glance` service user (with GLANCE_URL)
  CLOUDS_YAML      where to write clouds.yaml (clouds `admin`, `demo`, and `admin-appcred`
                   and `admin-appcred-by-name` with an application credential of the admin;
                   RegionOne)

Creates: project `service` with user `cinder` (role admin), one service per type
(volumev3 -> name cinderv3, block-storage -> name cinder, others named after their type)
with public/internal/admin endpoints in RegionOne, project `demo` with user `demo`
(role member), an application credential `cephboot-test` of the admin. Prints the admin's token and project id (for a readiness check), nothing
else; fails with a traceback.
"""

import json
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

env = os.environ
ks_url = env["KS_URL"]
cinder_url = env["CINDER_URL"]
service_types = env.get("SERVICE_TYPES", "volumev3 block-storage").split()
service_names = {"volumev3": "cinderv3", "block-storage": "cinder"}

auth = v3.Password(
    auth_url=ks_url,
    username="admin",
    password=env["ADMIN_PASSWORD"],
    project_name="admin",
    user_domain_id="default",
    project_domain_id="default",
)
admin_session = session.Session(auth=auth, timeout=30)
ks = client.Client(session=admin_session, interface="public")

domain = "default"
roles = {r.name: r for r in ks.roles.list()}
for name in ("admin", "member", "reader"):
    if name not in roles:
        roles[name] = ks.roles.create(name)

service_project = ks.projects.create("service", domain, description="Service project")
cinder_user = ks.users.create(
    "cinder", domain=domain, password=env["CINDER_PASSWORD"], default_project=service_project
)
ks.roles.grant(roles["admin"], user=cinder_user, project=service_project)

for stype in service_types:
    svc = ks.services.create(
        service_names.get(stype, stype), type=stype, description="Cinder Volume Service"
    )
    for interface in ("public", "internal", "admin"):
        ks.endpoints.create(svc, cinder_url, interface=interface, region="RegionOne")

if env.get("GLANCE_URL"):
    glance_user = ks.users.create(
        "glance", domain=domain, password=env["GLANCE_PASSWORD"], default_project=service_project
    )
    ks.roles.grant(roles["admin"], user=glance_user, project=service_project)
    image = ks.services.create("glance", type="image", description="Glance Image Service")
    for interface in ("public", "internal", "admin"):
        ks.endpoints.create(image, env["GLANCE_URL"], interface=interface, region="RegionOne")

if env.get("TWO_REGIONS") == "1":
    ks.regions.create(id="RegionTwo")
    two = next(s for s in ks.services.list(type="volumev3")) if "volumev3" in service_types \
        else ks.services.create("cinderv3", type="volumev3", description="Cinder Volume Service")
    for interface in ("public", "internal", "admin"):
        ks.endpoints.create(two, env.get("REGION_TWO_URL") or cinder_url,
                            interface=interface, region="RegionTwo")

demo_project = ks.projects.create("demo", domain, description="Non-admin test project")
demo_user = ks.users.create(
    "demo", domain=domain, password=env["DEMO_PASSWORD"], default_project=demo_project
)
ks.roles.grant(roles["member"], user=demo_user, project=demo_project)


def cloud(user, password, project):
    # JSON strings are YAML strings: any password is quoted correctly.
    return {
        "auth": {
            "auth_url": ks_url,
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": "RegionOne",
        "interface": "public",
        "identity_api_version": 3,
    }


# An application credential of the admin (scoped to the admin project, with its roles): what
# an operator hands a deployment tool instead of a password.
appcred = ks.application_credentials.create(
    "cephboot-test", description="cephboot tests: application credential auth"
)


def appcred_cloud(by_name):
    auth = {"auth_url": ks_url, "application_credential_secret": appcred.secret}
    if by_name:
        auth.update(
            {
                "application_credential_name": appcred.name,
                "username": "admin",
                "user_domain_name": "Default",
            }
        )
    else:
        auth["application_credential_id"] = appcred.id
    return {
        "auth_type": "v3applicationcredential",
        "auth": auth,
        "region_name": "RegionOne",
        "interface": "public",
        "identity_api_version": 3,
    }


clouds = {
    "clouds": {
        "admin": cloud("admin", env["ADMIN_PASSWORD"], "admin"),
        "demo": cloud("demo", env["DEMO_PASSWORD"], "demo"),
        "admin-appcred": appcred_cloud(by_name=False),
        "admin-appcred-by-name": appcred_cloud(by_name=True),
    }
}
with open(env["CLOUDS_YAML"], "w") as f:
    json.dump(clouds, f, indent=2)
    f.write("\n")

print(admin_session.get_token(), admin_session.get_project_id())
