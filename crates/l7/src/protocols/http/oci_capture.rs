//! Registry API messages taken from `testdata/registry-push-pull.pcap` (skopeo 1.9.3
//! and docker-registry 2.8.2 on Debian 12, recorded by `scripts/make-registry-capture.sh`):
//! each pair is one real exchange; the tests replay them on one connection.
//! Generated from the capture's TCP payloads (tshark), not edited by hand.

/// (from_client, bytes) in capture order within each exchange.
pub const EXCHANGES: &[(&str, &[u8], &[u8])] = &[
    (
        "ping",
        b"GET /v2/ HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Content-Length: 2\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n\
{}",
    ),
    (
        "GET the index `multi`",
        b"GET /v2/wirehouse/demo/manifests/multi HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Accept: application/vnd.oci.image.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v2+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.list.v2+json\r\n\
Accept: application/vnd.oci.image.index.v1+json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Content-Length: 670\r\n\
Content-Type: application/vnd.oci.image.index.v1+json\r\n\
Docker-Content-Digest: sha256:942e34be915b6148e7ffc8897ba46172124764a341c2fb1dfcfc496b2e7c510f\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Etag: \"sha256:942e34be915b6148e7ffc8897ba46172124764a341c2fb1dfcfc496b2e7c510f\"\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n\
{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n  \"manifests\": [\n    {\n      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n      \"digest\": \"sha256:e453aa3c1580c6ad64ce684e1fcc2e44cbacff6004af7dd72eb5499044de2c1d\",\n      \"size\": 476,\n      \"platform\": {\n        \"architecture\": \"amd64\",\n        \"os\": \"linux\"\n      }\n    },\n    {\n      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n      \"digest\": \"sha256:3e2062c6111141f72689243e73e21f467b28cd8f5d122806a06a28fe966584c3\",\n      \"size\": 476,\n      \"platform\": {\n        \"architecture\": \"arm64\",\n        \"os\": \"linux\",\n        \"variant\": \"v8\"\n      }\n    }\n  ]\n}",
    ),
    (
        "GET its linux/amd64 manifest by digest",
        b"GET /v2/wirehouse/demo/manifests/sha256:e453aa3c1580c6ad64ce684e1fcc2e44cbacff6004af7dd72eb5499044de2c1d HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Accept: application/vnd.oci.image.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v2+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.list.v2+json\r\n\
Accept: application/vnd.oci.image.index.v1+json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Content-Length: 476\r\n\
Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
Docker-Content-Digest: sha256:e453aa3c1580c6ad64ce684e1fcc2e44cbacff6004af7dd72eb5499044de2c1d\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Etag: \"sha256:e453aa3c1580c6ad64ce684e1fcc2e44cbacff6004af7dd72eb5499044de2c1d\"\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n\
{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n  \"config\": {\n    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n    \"digest\": \"sha256:8847b1d16b5e2b771dc3f7398876f79f9191093db4561b37577a11aa77bb8aa1\",\n    \"size\": 215\n  },\n  \"layers\": [\n    {\n      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n      \"digest\": \"sha256:31f7b27d663be10b7171c0b9e48dd29150df4b182b86cf33fa745dc739adba86\",\n      \"size\": 146\n    }\n  ]\n}",
    ),
    (
        "GET the config blob",
        b"GET /v2/wirehouse/demo/blobs/sha256:31f7b27d663be10b7171c0b9e48dd29150df4b182b86cf33fa745dc739adba86 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Accept-Ranges: bytes\r\n\
Cache-Control: max-age=31536000\r\n\
Content-Length: 146\r\n\
Content-Type: application/octet-stream\r\n\
Docker-Content-Digest: sha256:31f7b27d663be10b7171c0b9e48dd29150df4b182b86cf33fa745dc739adba86\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Etag: \"sha256:31f7b27d663be10b7171c0b9e48dd29150df4b182b86cf33fa745dc739adba86\"\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n\
\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff\xed\xd1A\n\xc20\x10\x85\xe1\xac=\xc5\\@\x9d\x9ai{\x9e\xa0\x01\x0b\xd6@\x9a\xa2\xde\xde\xe8\xc2\x85\x0b\xdd\x88(\xfc\xdf\xe6\xc1\xbc\xcd\x0c\x13\xcbv}\x1ar\xdc\xa7y\x8aK]\x95sq\x9f\xa6Ugv\xcf\xea9U}\xeb\x1ak7\xd6\xf7j\xb7y\xe3}\rQ\xf7\x05\xf3TB\xae\xab\xe4\x94^^\xfe\xae\xffS\x8f\xdf\xcb\x18\x86\xa3\x1c\xc2%fQ\x09\xe3\xae\xb3\x85\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xfc\xaa+\xebpr\n\x00(\x00\x00",
    ),
    (
        "GET the layer blob",
        b"GET /v2/wirehouse/demo/blobs/sha256:8847b1d16b5e2b771dc3f7398876f79f9191093db4561b37577a11aa77bb8aa1 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Accept-Ranges: bytes\r\n\
Cache-Control: max-age=31536000\r\n\
Content-Length: 215\r\n\
Content-Type: application/octet-stream\r\n\
Docker-Content-Digest: sha256:8847b1d16b5e2b771dc3f7398876f79f9191093db4561b37577a11aa77bb8aa1\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Etag: \"sha256:8847b1d16b5e2b771dc3f7398876f79f9191093db4561b37577a11aa77bb8aa1\"\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n\
{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\",\"config\":{\"Cmd\":[\"/bin/true\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:1e71fd7f5873705ac5482965b9166ab8a769239639a4c34b2258c85cbd5c95f2\"]}}",
    ),
    (
        "POST: start an upload",
        b"POST /v2/wirehouse/demo/blobs/uploads/ HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Content-Length: 0\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\n\
Content-Length: 0\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Docker-Upload-Uuid: a6a6a9f4-45fc-49eb-b24f-8199eb12f905\r\n\
Location: http://10.99.0.1:5000/v2/wirehouse/demo/blobs/uploads/a6a6a9f4-45fc-49eb-b24f-8199eb12f905?_state=t6e9xI3l9lFoPeaQ49oRouJDJNdHI-fipBMh_oC0dsF7Ik5hbWUiOiJ3aXJlaG91c2UvZGVtbyIsIlVVSUQiOiJhNmE2YTlmNC00NWZjLTQ5ZWItYjI0Zi04MTk5ZWIxMmY5MDUiLCJPZmZzZXQiOjAsIlN0YXJ0ZWRBdCI6IjIwMjYtMTEtMjVUMDM6MDY6NTYuMTM1MDQ0MDVaIn0%3D\r\n\
Range: 0-0\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "PATCH: the layer's bytes",
        b"PATCH /v2/wirehouse/demo/blobs/uploads/a6a6a9f4-45fc-49eb-b24f-8199eb12f905?_state=t6e9xI3l9lFoPeaQ49oRouJDJNdHI-fipBMh_oC0dsF7Ik5hbWUiOiJ3aXJlaG91c2UvZGVtbyIsIlVVSUQiOiJhNmE2YTlmNC00NWZjLTQ5ZWItYjI0Zi04MTk5ZWIxMmY5MDUiLCJPZmZzZXQiOjAsIlN0YXJ0ZWRBdCI6IjIwMjYtMTEtMjVUMDM6MDY6NTYuMTM1MDQ0MDVaIn0%3D HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Content-Length: 151\r\n\
Content-Type: application/octet-stream\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n\
\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff\xed\xd1A\n\xc20\x10\x85\xe1\xac=\xc5\\@\x9d\xda\xd8\x9e'h\xd0@\xdb@\x92\xa2\xde\xde\xe8\xc2\x85\x0b\xdd\x88(\xfc\xdf\xe6\xc1\xbc\xcd\x0c\xe3\xcbn}\n\xc9\x1f\xe3\x9c\xfdRW\xe5\\\xcc\xa7i\xd5Y{\xcf\xea9Uk\xd7\xd8\xed\xc6\xf6\xbd\xda\xdb\xbci\xdb\x1a\xa2\xe6\x0b\xe6\\\\\xaa\xab\xa4\x18_^\xfe\xae\xffS\x8f\xdf\xcb\xe8\xc2$\x83\xbb\xf8$*n\xdcwVr\x98\x0e\x83_\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\xcf\xb9\x021dJ\xda\x00(\x00\x00",
        b"HTTP/1.1 202 Accepted\r\n\
Content-Length: 0\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Docker-Upload-Uuid: a6a6a9f4-45fc-49eb-b24f-8199eb12f905\r\n\
Location: http://10.99.0.1:5000/v2/wirehouse/demo/blobs/uploads/a6a6a9f4-45fc-49eb-b24f-8199eb12f905?_state=czoyasZD0ZRWH3LqesQglEyhfAP8EGF7m-QTM3M7GiN7Ik5hbWUiOiJ3aXJlaG91c2UvZGVtbyIsIlVVSUQiOiJhNmE2YTlmNC00NWZjLTQ5ZWItYjI0Zi04MTk5ZWIxMmY5MDUiLCJPZmZzZXQiOjE1MSwiU3RhcnRlZEF0IjoiMjAyNi0xMS0yNVQwMzowNjo1NloifQ%3D%3D\r\n\
Range: 0-150\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "PUT ?digest=: finish the upload",
        b"PUT /v2/wirehouse/demo/blobs/uploads/a6a6a9f4-45fc-49eb-b24f-8199eb12f905?_state=czoyasZD0ZRWH3LqesQglEyhfAP8EGF7m-QTM3M7GiN7Ik5hbWUiOiJ3aXJlaG91c2UvZGVtbyIsIlVVSUQiOiJhNmE2YTlmNC00NWZjLTQ5ZWItYjI0Zi04MTk5ZWIxMmY5MDUiLCJPZmZzZXQiOjE1MSwiU3RhcnRlZEF0IjoiMjAyNi0xMS0yNVQwMzowNjo1NloifQ%3D%3D&digest=sha256%3A9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Content-Length: 0\r\n\
Content-Type: application/octet-stream\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 201 Created\r\n\
Content-Length: 0\r\n\
Docker-Content-Digest: sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Location: http://10.99.0.1:5000/v2/wirehouse/demo/blobs/sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "PUT the image manifest as tag 1.0",
        b"PUT /v2/wirehouse/demo/manifests/1.0 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Content-Length: 476\r\n\
Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n\
{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n  \"config\": {\n    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n    \"digest\": \"sha256:741d99c149115a1c9ca05ac7925e703259f0e535c74030da96548f9faea0177c\",\n    \"size\": 215\n  },\n  \"layers\": [\n    {\n      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n      \"digest\": \"sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\",\n      \"size\": 151\n    }\n  ]\n}",
        b"HTTP/1.1 201 Created\r\n\
Docker-Content-Digest: sha256:05d0d425270e0f7dc2f6c24ff2e4d979a47ab9f2eccebdf0f67135af4e29f3b9\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Location: http://10.99.0.1:5000/v2/wirehouse/demo/manifests/sha256:05d0d425270e0f7dc2f6c24ff2e4d979a47ab9f2eccebdf0f67135af4e29f3b9\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Content-Length: 0\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "PUT the index as tag multi",
        b"PUT /v2/wirehouse/demo/manifests/multi HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Content-Length: 670\r\n\
Content-Type: application/vnd.oci.image.index.v1+json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n\
{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n  \"manifests\": [\n    {\n      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n      \"digest\": \"sha256:e453aa3c1580c6ad64ce684e1fcc2e44cbacff6004af7dd72eb5499044de2c1d\",\n      \"size\": 476,\n      \"platform\": {\n        \"architecture\": \"amd64\",\n        \"os\": \"linux\"\n      }\n    },\n    {\n      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n      \"digest\": \"sha256:3e2062c6111141f72689243e73e21f467b28cd8f5d122806a06a28fe966584c3\",\n      \"size\": 476,\n      \"platform\": {\n        \"architecture\": \"arm64\",\n        \"os\": \"linux\",\n        \"variant\": \"v8\"\n      }\n    }\n  ]\n}",
        b"HTTP/1.1 201 Created\r\n\
Docker-Content-Digest: sha256:942e34be915b6148e7ffc8897ba46172124764a341c2fb1dfcfc496b2e7c510f\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Location: http://10.99.0.1:5000/v2/wirehouse/demo/manifests/sha256:942e34be915b6148e7ffc8897ba46172124764a341c2fb1dfcfc496b2e7c510f\r\n\
Date: Wed, 25 Nov 2026 03:06:56 GMT\r\n\
Content-Length: 0\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "POST ?mount=&from=: cross-repository mount",
        b"POST /v2/wirehouse/scratch/blobs/uploads/?from=wirehouse%2Fdemo&mount=sha256%3A9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Content-Length: 0\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 201 Created\r\n\
Content-Length: 0\r\n\
Docker-Content-Digest: sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Location: http://10.99.0.1:5000/v2/wirehouse/scratch/blobs/sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\r\n\
Date: Wed, 25 Nov 2026 03:06:57 GMT\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "HEAD a blob that exists",
        b"HEAD /v2/wirehouse/demo/blobs/sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Accept-Ranges: bytes\r\n\
Cache-Control: max-age=31536000\r\n\
Content-Length: 151\r\n\
Content-Type: application/octet-stream\r\n\
Docker-Content-Digest: sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Etag: \"sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492\"\r\n\
Date: Wed, 25 Nov 2026 03:06:57 GMT\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "GET tags/list",
        b"GET /v2/wirehouse/demo/tags/list HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Date: Wed, 25 Nov 2026 03:06:57 GMT\r\n\
Content-Length: 49\r\n\
Connection: close\r\n\r\n\
{\"name\":\"wirehouse/demo\",\"tags\":[\"multi\",\"1.0\"]}\n",
    ),
    (
        "GET _catalog",
        b"GET /v2/_catalog HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: curl/7.88.1\r\n\
Accept: */*\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Date: Wed, 25 Nov 2026 03:06:57 GMT\r\n\
Content-Length: 36\r\n\r\n\
{\"repositories\":[\"wirehouse/demo\"]}\n",
    ),
    (
        "DELETE a manifest",
        b"DELETE /v2/wirehouse/scratch/manifests/sha256:05d0d425270e0f7dc2f6c24ff2e4d979a47ab9f2eccebdf0f67135af4e29f3b9 HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Accept: application/vnd.oci.image.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v2+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.list.v2+json\r\n\
Accept: application/vnd.oci.image.index.v1+json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Date: Wed, 25 Nov 2026 03:06:57 GMT\r\n\
Content-Length: 0\r\n\
Connection: close\r\n\r\n",
    ),
    (
        "GET a missing tag (404 MANIFEST_UNKNOWN)",
        b"GET /v2/wirehouse/demo/manifests/nosuchtag HTTP/1.1\r\n\
Host: 10.99.0.1:5000\r\n\
User-Agent: skopeo/1.9.3\r\n\
Accept: application/vnd.oci.image.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v2+json\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n\
Accept: application/vnd.docker.distribution.manifest.v1+json\r\n\
Accept: application/vnd.docker.distribution.manifest.list.v2+json\r\n\
Accept: application/vnd.oci.image.index.v1+json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Accept-Encoding: gzip\r\n\
Connection: close\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\n\
Content-Type: application/json; charset=utf-8\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Date: Wed, 25 Nov 2026 03:06:57 GMT\r\n\
Content-Length: 99\r\n\
Connection: close\r\n\r\n\
{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"nosuchtag\"}}]}\n",
    ),
];
