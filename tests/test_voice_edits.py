"""The web page's voice edits in process, where an engine can be told to fail: a voice that cannot be made
ready leaves nothing behind, and edits that race each other leave whole voices."""

import asyncio

from tests.fake_engine import FakeEngine
from tests.web_client import spoken_recording
from wyoming_streamtts.engine import EngineError
from wyoming_streamtts.service import Service, build_catalog
from wyoming_streamtts.settings import ServerSettings
from wyoming_streamtts.voices import Speaker, find_speakers
from wyoming_streamtts.web.voice_edits import EditError, VoiceEditor


class CloningEngine(FakeEngine):
    """Clones by taking a while; fails to when told to."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.prepared: list[str] = []

    async def prepare_voice(self, speaker: Speaker) -> None:
        await asyncio.sleep(0.05)
        if self.fail:
            raise EngineError("XTTS cannot clone a voice from this recording: out of memory")
        self.prepared.append(speaker.name)


def editor_for(tmp_path, engine: FakeEngine) -> VoiceEditor:
    settings = ServerSettings(voices_dir=tmp_path / "voices")
    service = Service(engine, build_catalog(settings, engine, find_speakers(settings.voices_dir)), settings)
    return VoiceEditor(service, None)


async def wait(editor: VoiceEditor, job_id: str) -> str:
    while (job := editor.jobs[job_id]).state == "preparing":
        await asyncio.sleep(0.01)
    return job.state


async def test_a_voice_that_cannot_be_made_ready_leaves_nothing_behind(tmp_path):
    editor = editor_for(tmp_path, CloningEngine(fail=True))
    recording = spoken_recording(tmp_path / "ana.wav")
    job = await editor.add_cloned(recording, "ana", ["en"], "Ana")
    assert await wait(editor, job.id) == "failed"
    assert "out of memory" in editor.jobs[job.id].message
    assert not [path for path in (tmp_path / "voices").rglob("*") if path.is_file()]
    assert "ana" not in editor.service.catalog.speakers
    # The name is free again.
    editor.service.engine.fail = False  # type: ignore[attr-defined]
    again = await editor.add_cloned(recording, "ana", [], "")
    assert await wait(editor, again.id) == "ready"
    assert "ana" in editor.service.catalog.speakers


async def test_edits_at_once_leave_whole_voices(tmp_path):
    engine = CloningEngine()
    editor = editor_for(tmp_path, engine)
    recording = spoken_recording(tmp_path / "speech.wav")
    jobs = [await editor.add_cloned(recording, name, [], "") for name in ("ana", "bob", "cyd")]
    assert [await wait(editor, job.id) for job in jobs] == ["ready"] * 3
    results = await asyncio.gather(
        editor.rename("ana", "dee"), editor.delete("ana"), editor.rename("bob", "cyd"), editor.delete("cyd"),
        return_exceptions=True,
    )  # fmt: skip
    refused = [str(result) for result in results if isinstance(result, EditError)]
    assert refused == ["No cloned voice named ana", "There is a voice named cyd already: pick another name, or "
                       "delete that one"]  # fmt: skip
    on_disk = sorted(path.name for path in (tmp_path / "voices").iterdir() if not path.name.startswith("."))
    assert on_disk == ["bob.wav", "dee.wav"]
    assert sorted(name for name, s in editor.service.catalog.speakers.items() if s.files) == ["bob", "dee"]
