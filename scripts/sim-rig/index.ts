// The simulated rig's public surface: `rigcap demo` and the tests start it from here.
export { startSimRig, type SimRig, type SimRigOptions } from './rig.ts';
export {
  simRigStreams,
  simTopics,
  type SimSensor,
  type SimStreamConfigEntry,
  type SimTopic,
} from './streams.ts';
export { plateTexts } from './scene.ts';
